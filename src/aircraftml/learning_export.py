"""``aircraftml corrections export DIR``: the corrections people sent, as a training folder.

``DIR/train/<label>/<platform>-<post id>.jpg`` (the aircraft as the bot cut it) in the
layout ``aircraftml train`` reads (``--add DIR`` adds it to a dataset), and
``DIR/corrections.csv`` with what the bot had said of each. Corrections without a type
("wrong" alone) or without a crop (an answer about several aircraft) are left out.
"""

from __future__ import annotations

import base64
import csv
import json
from collections import Counter
from pathlib import Path

from aircraftml.learning import CORRECTION
from aircraftml.state.base import StateStore


def export_corrections(state: StateStore, out_dir: Path) -> dict[str, int]:
    """Write the corrections with a type and a crop; returns how many per label."""
    counts: Counter[str] = Counter()
    rows = []
    for key, value in state.records(CORRECTION):
        record = json.loads(value)
        label, crop = record.get("label"), record.get("crop_jpeg_base64")
        if not label or not crop:
            continue
        name = f"{key.replace(':', '-').replace('/', '-')}.jpg"
        folder = out_dir / "train" / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(base64.b64decode(crop))
        said = "; ".join(a["label"] for a in record.get("said", []))
        rows.append((f"train/{label}/{name}", label, said, record["verdict"], record["mention_id"]))
        counts[label] += 1
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "corrections.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("file", "label", "said", "verdict", "mention_id"))
        writer.writerows(rows)
    return dict(counts)
