"""The claim bar of ``scripts/open_set_experiment.py``: the lowest confidence from which the
bot's claims are right 19 times in 20, photos of types it never saw counted, and at most 5%
of those photos are claimed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from aircraftml.vision.taxonomy import Taxonomy

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "open_set_experiment.py"


@pytest.fixture(scope="module")
def experiment():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("open_set_experiment", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _row(best: int, confidence: float) -> list[float]:
    row = [(1 - confidence) / 2] * 3
    row[best] = confidence
    return row


def _split(experiment, known_rows: list[list[float]], unseen_rows: list[list[float]]):  # type: ignore[no-untyped-def]
    """A split of photos of A (``known_rows``: the model's probabilities for A, B and C),
    then of D, a type the model never saw (``unseen_rows``)."""
    rows = known_rows + unseen_rows
    n_known, n_unseen = len(known_rows), len(unseen_rows)
    return experiment.Split(
        logits=np.log(np.asarray(rows, dtype=np.float32)),
        truth=np.asarray([0] * n_known + [-1] * n_unseen),
        held=np.asarray([False] * n_known + [True] * n_unseen),
        held_truths=[None] * n_known + ["D"] * n_unseen,
    )


def test_the_bar_rises_until_the_left_out_types_claims_are_gone(experiment) -> None:  # type: ignore[no-untyped-def]
    # Given a model of three types: 18 photos of A named at 95%, 2 of A taken for B at 72%,
    # and 4 photos of a type it never saw (D) taken for A at 72%
    known = ("A", "B", "C")
    split = _split(experiment, [_row(0, 0.95)] * 18 + [_row(1, 0.72)] * 2, [_row(0, 0.72)] * 4)
    tree, full = Taxonomy.flat(known), Taxonomy.flat((*known, "D"))
    # Then at the default bar (65%) 18 of 24 claims are right, and every D is claimed
    at_default = experiment.figures(split, 1.0, "max_probability", 0.0, 0.65, tree, full)
    assert at_default["claims_right"] == pytest.approx(18 / 24)
    assert at_default["held_out_claimed"] == 1.0
    # And the bar chosen is 75%, the lowest from which claims are right 95% of the time
    assert experiment.choose_bar(split, 1.0, tree, full) == 0.75
    chosen = experiment.figures(split, 1.0, "max_probability", 0.0, 0.75, tree, full)
    assert chosen["claims_right"] == 1.0 and chosen["held_out_claimed"] == 0.0
    assert chosen["known_claimed"] == pytest.approx(18 / 20)
    # And no top-1 answer is lost: the bar changes the words, not the guess
    assert chosen["points_lost"] == 0.0


def test_claims_right_19_in_20_are_not_enough_while_the_unseen_types_are_claimed(
    experiment,
) -> None:  # type: ignore[no-untyped-def]
    # Given 100 photos of A named at 95%, and 4 of a type the model never saw taken for A at 80%
    split = _split(experiment, [_row(0, 0.95)] * 100, [_row(0, 0.80)] * 4)
    tree, full = Taxonomy.flat(("A", "B", "C")), Taxonomy.flat(("A", "B", "C", "D"))
    # Then from 65% claims are right 96% of the time, but every photo of D is claimed
    at_default = experiment.figures(split, 1.0, "max_probability", 0.0, 0.65, tree, full)
    assert at_default["claims_right"] > 0.95 and at_default["held_out_claimed"] == 1.0
    # And the bar rises to 85%, the lowest that claims none of them
    assert experiment.choose_bar(split, 1.0, tree, full) == 0.85


def test_when_no_bar_keeps_the_unseen_types_out_the_highest_is_kept_and_said(
    experiment, caplog
) -> None:  # type: ignore[no-untyped-def]
    # Given a model that names a type it never saw (D) at 99.5%, as sure as the known ones
    split = _split(experiment, [_row(0, 0.995)] * 20, [_row(0, 0.995)] * 4)
    tree, full = Taxonomy.flat(("A", "B", "C")), Taxonomy.flat(("A", "B", "C", "D"))
    # When the bar is chosen
    bar = experiment.choose_bar(split, 1.0, tree, full)
    # Then it is the highest tried (99%), and the log says that no bar met both goals
    assert bar == experiment.CLAIM_BARS[-1] == 0.99
    assert "no claim bar meets both goals" in caplog.text
