"""Which type tree a trained model ships with (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aircraftml.vision.train import TrainingError, pick_taxonomy

TREE = {
    "format": "aircraftml-taxonomy",
    "format_version": 1,
    "types": {
        "Cub": {"family": "Piper high-wings", "manufacturer": "Piper"},
        "Super Cub": {"family": "Piper high-wings", "manufacturer": "Piper"},
    },
}


def test_the_data_folders_own_tree_wins(tmp_path: Path) -> None:
    (tmp_path / "taxonomy.json").write_text(json.dumps(TREE))
    tree = pick_taxonomy(("Cub", "Super Cub"), tmp_path)
    assert tree is not None and tree.families == ("Piper high-wings", "Piper high-wings")


def test_a_given_tree_that_leaves_out_a_label_stops_training_in_one_line(
    tmp_path: Path,
) -> None:
    given = tmp_path / "tree.json"
    given.write_text(json.dumps(TREE))
    with pytest.raises(TrainingError, match="no family for Pitts"):
        pick_taxonomy(("Cub", "Pitts"), tmp_path, given)


def test_labels_of_the_shipped_vocabulary_get_the_shipped_tree(tmp_path: Path) -> None:
    tree = pick_taxonomy(("Airbus A319", "Boeing 787"), tmp_path)
    assert tree is not None
    assert tree.families == ("Airbus A320 family", "Boeing 787")
    assert tree.manufacturers == ("Airbus", "Boeing")


def test_labels_the_shipped_tree_does_not_cover_get_none(tmp_path: Path) -> None:
    assert pick_taxonomy(("cat", "dog"), tmp_path) is None
