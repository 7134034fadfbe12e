#!/usr/bin/env python
"""Choose the "not one I know" rule honestly: train with some types left out, and count how
often their photos are still claimed.

    python scripts/open_set_experiment.py DATA --cache CACHE --out open-set.json
        [--leave-out "Boeing 767" --leave-out ...] [--epochs 10]
    python scripts/open_set_experiment.py DATA --apply MODEL_DIR --rule open-set.json

1. The back of the classifier is trained (as ``aircraftml train`` does, over the same cached
   front features) on every type but the left-out ones.
2. On val, for each open-set score (``vision/open_set.py``) and each threshold, two figures:
   the share of the left-out types' photos still claimed ("probably" or stronger, at any
   level of the type tree), and the top-1 points lost on the known types (photos named right
   that the rule now refuses). The rule kept is the one with the fewest claims of left-out
   photos for at most ``--max-loss-points`` lost; its threshold is kept as the share of
   known val photos it refuses, so it carries over to a model trained on every type.
3. The same figures on test, once, for the report.

``--apply`` sets the threshold of a trained model (its ``model.json``) to refuse that same
share of its own known val photos.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LEAVE_OUT = (
    "Airbus A380",
    "Boeing 767",
    "ATR 72",
    "McDonnell Douglas F-15 Eagle",
    "Rockwell B-1 Lancer",
    "Lockheed C-130 Hercules",
    "Republic P-47 Thunderbolt",
    "Junkers Ju 87",
)
MAX_REFUSED_SHARE = 0.30  # thresholds tried: refusing 0..30% of the known val photos

logger = logging.getLogger("open_set_experiment")


def claims(
    probabilities: npt.NDArray[np.float32], known: npt.NDArray[np.bool_], taxonomy: Any
) -> list[Any]:
    """What the bot names per row (``naming.Named``); ``.is_claim``: "probably" or
    stronger, at any level of the tree."""
    from aircraftml.vision.naming import most_specific_sure_level
    from aircraftml.vision.types import TypeGuess

    named = []
    for row, is_known in zip(probabilities, known, strict=True):
        best = int(row.argmax())
        named.append(
            most_specific_sure_level(
                (TypeGuess(taxonomy.labels[best], float(row[best])),),
                taxonomy.best_family(row),
                taxonomy.best_manufacturer(row),
                bool(is_known),
            )
        )
    return named


def claimed(named: list[Any]) -> npt.NDArray[np.bool_]:
    return np.asarray([n.is_claim for n in named], dtype=bool)


def claimed_wrongly(named: list[Any], truths: list[str | None], full: Any) -> npt.NDArray[np.bool_]:
    """Claims that are none of the photo's own type, family or maker (in the tree of every
    type, left-out ones included): "probably a Boeing" for a left-out 767 is a claim, and
    it is right."""
    wrong = np.zeros(len(named), dtype=bool)
    for i, (n, truth) in enumerate(zip(named, truths, strict=True)):
        if n.is_claim and truth is not None:
            index = full.labels.index(truth)
            wrong[i] = n.label not in (truth, full.families[index], full.manufacturers[index])
    return wrong


def figures(
    logits: npt.NDArray[np.float32],
    truth: npt.NDArray[np.int64],
    held: npt.NDArray[np.bool_],
    temperature: float,
    score: str,
    threshold: float,
    taxonomy: Any,
    held_truths: list[str | None] | None = None,
    full_taxonomy: Any = None,
) -> dict[str, float]:
    """Left-out claims and known-type points lost for one rule; with ``held_truths`` (each
    row's left-out label, None for known rows) and the tree of every type, the claims that
    are wrong too."""
    from aircraftml.vision.classifier import softmax
    from aircraftml.vision.open_set import open_set_scores

    probabilities = softmax(logits, temperature)
    known = open_set_scores(logits, temperature, score) >= threshold
    right = ~held & (probabilities.argmax(axis=1) == truth)
    named = claims(probabilities, known, taxonomy)
    with_rule = claimed(named)
    everything_known = claimed(claims(probabilities, np.ones(len(known), dtype=bool), taxonomy))
    n_known, n_held = int((~held).sum()), int(held.sum())
    wrong: dict[str, float] = {}
    if held_truths is not None and full_taxonomy is not None and n_held:
        wrongly = claimed_wrongly(named, held_truths, full_taxonomy)
        wrong = {"held_out_claimed_wrongly": float(wrongly[held].mean())}
    return wrong | {
        "held_out_photos": n_held,
        "known_photos": n_known,
        "held_out_claimed": float(with_rule[held].mean()) if n_held else 0.0,
        "held_out_claimed_without_rule": float(everything_known[held].mean()) if n_held else 0.0,
        "known_top1": float(right.sum() / n_known),
        "known_top1_with_rule": float((right & known).sum() / n_known),
        "known_refused": float((~known[~held]).mean()),
        "points_lost": float(100 * (right & ~known).sum() / n_known),
        "points_per_known_photo": 100 / n_known,
    }


def choose_rule(
    logits: npt.NDArray[np.float32],
    truth: npt.NDArray[np.int64],
    held: npt.NDArray[np.bool_],
    temperature: float,
    taxonomy: Any,
    max_loss_points: float,
) -> dict[str, Any]:
    from aircraftml.vision.open_set import SCORES, open_set_scores

    best: dict[str, Any] | None = None
    for score in SCORES:
        known_scores = open_set_scores(logits[~held], temperature, score)
        for share in np.linspace(0.0, MAX_REFUSED_SHARE, 61):
            threshold = float(np.quantile(known_scores, share)) if share else -np.inf
            result = figures(logits, truth, held, temperature, score, threshold, taxonomy)
            if result["points_lost"] > max_loss_points:
                break
            key = (result["held_out_claimed"], result["points_lost"])
            if best is None or key < (best["held_out_claimed"], best["points_lost"]):
                best = result | {"score": score, "threshold": threshold, "refused_share": share}
    assert best is not None
    return best


def run_experiment(args: argparse.Namespace) -> dict[str, Any]:
    from aircraftml.vision import evaluate as ev
    from aircraftml.vision import train as tr
    from aircraftml.vision.taxonomy import Taxonomy

    labels = tr.list_labels(args.data)
    leave_out = tuple(args.leave_out or DEFAULT_LEAVE_OUT)
    missing = [label for label in leave_out if label not in labels]
    if missing:
        sys.exit(f"not labels of {args.data}: {', '.join(missing)}")
    held_index = np.asarray([labels.index(label) for label in leave_out])
    known_labels = tuple(label for label in labels if label not in leave_out)
    remap = np.full(len(labels), -1)
    remap[[labels.index(label) for label in known_labels]] = np.arange(len(known_labels))

    config = replace(tr.TrainConfig(), epochs=args.epochs, threads=args.threads)
    torch = tr._require_torch()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    backbone = tr.load_backbone()
    front, back = tr.build_networks(backbone, len(known_labels), config)
    sets = {}
    with tempfile.TemporaryDirectory() as tmp:
        front_path = Path(tmp) / "front.onnx"
        example = np.zeros((1, 3, tr.INPUT_SIZE_PX, tr.INPUT_SIZE_PX), np.float32)
        tr.export_onnx(front, front_path, example)
        session = tr._onnx_session(front_path, config.threads)
        for split, views, tag in (
            ("train", config.views_per_image, "train views"),
            ("val", 1, "val"),
            ("test", 1, "test"),
        ):
            items = tr.list_split(args.data, split, labels)  # full labels: the cache matches
            sets[split] = tr.extract_features(
                session,
                items,
                views,
                config,
                augment=views > 1,
                progress=True,
                description=tag,
                cache_dir=args.cache,
            )

    def known_only(features: Any) -> Any:
        keep = ~np.isin(features.label_indices, held_index)
        return tr.FeatureSet(
            features.features[keep], remap[features.label_indices[keep]], features.image_ids[keep]
        )

    train_known, val_known = known_only(sets["train"]), known_only(sets["val"])
    best_epoch = tr.fit_back(
        back, train_known, val_known, config, progress=True, checkpoint=args.checkpoint
    )
    temperature = ev.fit_temperature(
        tr.predict_logits(back, val_known.features), val_known.label_indices
    )
    taxonomy = tr.pick_taxonomy(known_labels, args.data) or Taxonomy.flat(known_labels)
    full_taxonomy = tr.pick_taxonomy(labels, args.data)
    report: dict[str, Any] = {
        "leave_out": list(leave_out),
        "epochs": config.epochs,
        "best_epoch": best_epoch,
        "temperature": temperature,
        "max_loss_points": args.max_loss_points,
    }
    if args.dump:
        dump_embeddings(args.dump, back, sets, train_known, remap, held_index, known_labels)
    for split in ("val", "test"):
        features = sets[split]
        held = np.isin(features.label_indices, held_index)
        truth = np.where(held, -1, remap[features.label_indices])
        logits = tr.predict_logits(back, features.features)
        if split == "val":
            rule = choose_rule(logits, truth, held, temperature, taxonomy, args.max_loss_points)
            report["rule"] = {k: rule[k] for k in ("score", "refused_share")}
        # test keeps the threshold chosen on val: the same model, nothing chosen on test
        indices = features.label_indices
        held_truths = [labels[i] if h else None for i, h in zip(indices, held, strict=True)]
        report[split] = figures(
            logits,
            truth,
            held,
            temperature,
            rule["score"],
            rule["threshold"],
            taxonomy,
            held_truths,
            full_taxonomy,
        )
    return report


def dump_embeddings(
    path: Path,
    back: Any,
    sets: dict[str, Any],
    train_known: Any,
    remap: Any,
    held_index: Any,
    known_labels: tuple[str, ...],
) -> None:
    """Write the left-out model's logits and pooled features (the last layer's input) for
    train (its first view of each known image), val and test, to try feature-space scores
    without training again."""
    from aircraftml.vision import train as tr

    first_view = np.r_[True, train_known.image_ids[1:] != train_known.image_ids[:-1]]
    arrays: dict[str, Any] = {"known_labels": np.asarray(known_labels)}
    parts = (
        ("train", train_known.features[first_view], train_known.label_indices[first_view]),
        ("val", sets["val"].features, sets["val"].label_indices),
        ("test", sets["test"].features, sets["test"].label_indices),
    )
    for split, features, labels in parts:
        logits, pooled = tr.predict_logits(back, features, with_features=True)
        held = np.isin(labels, held_index) if split != "train" else np.zeros(len(labels), bool)
        truth = labels if split == "train" else np.where(held, -1, remap[labels])
        arrays |= {
            f"{split}_logits": logits,
            f"{split}_features": pooled,
            f"{split}_truth": truth,
            f"{split}_held": held,
            f"{split}_full_labels": labels,
        }
    np.savez(path, **arrays)


def _threshold_for(logits: Any, temperature: float, rule: dict[str, Any]) -> float:
    from aircraftml.vision.open_set import open_set_scores

    share = float(rule["refused_share"])
    if not share:
        return -np.inf
    return float(np.quantile(open_set_scores(logits, temperature, rule["score"]), share))


def apply_rule(args: argparse.Namespace) -> dict[str, Any]:
    """Set ``model.json``'s open-set threshold so the model refuses the chosen share of its
    own known val photos."""
    from aircraftml.vision.classifier import META_FILE, Classifier
    from aircraftml.vision.dataset import list_images
    from aircraftml.vision.evaluate import _logits

    rule = json.loads(args.rule.read_text())["rule"]
    classifier = Classifier.load(args.apply, threads=args.threads)
    logits = _logits(classifier, [path for path, _ in list_images(args.data, "val")])
    threshold = _threshold_for(logits, classifier.temperature, rule)
    meta_path = args.apply / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["open_set"] = {"score": rule["score"], "threshold": round(threshold, 4)}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta["open_set"] | {"refused_share_on_val": rule["refused_share"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--cache", type=Path, help="the front features' cache (as train's)")
    parser.add_argument("--out", type=Path, help="write the experiment's figures here")
    parser.add_argument("--leave-out", action="append", help="a label to leave out")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-loss-points", type=float, default=2.0)
    parser.add_argument("--checkpoint", type=Path, help="resume the training from here")
    parser.add_argument("--dump", type=Path, help="write logits and features (npz) here")
    parser.add_argument("--apply", type=Path, help="a model directory to set the rule in")
    parser.add_argument("--rule", type=Path, help="with --apply: the experiment's JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.apply:
        print(json.dumps(apply_rule(args), indent=2))
        return
    report = run_experiment(args)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
