"""The type tree: summed probabilities per family and maker, the most specific level the
bot is sure of, the open-set rule, and the words for each."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aircraftml.errors import ModelError
from aircraftml.platforms.x_text import weighted_length
from aircraftml.reply import PhotoOutcome, compose_reply, describe_aircraft
from aircraftml.vision.annotate import label_text
from aircraftml.vision.classifier import SHIPPED_MODEL_DIR, ClassifierMeta, assess, read_meta
from aircraftml.vision.image import Photo
from aircraftml.vision.naming import most_specific_sure_level
from aircraftml.vision.open_set import OpenSetRule, open_set_scores
from aircraftml.vision.recognizer import FoundAircraft, Recognition
from aircraftml.vision.taxonomy import TAXONOMY_FILE, Taxonomy
from aircraftml.vision.types import TypeGuess

LABELS = ("Airbus A319", "Airbus A320", "Airbus A321", "Boeing 767", "Boeing 787")
TYPES = {
    "Airbus A319": {"family": "Airbus A320 family", "manufacturer": "Airbus"},
    "Airbus A320": {"family": "Airbus A320 family", "manufacturer": "Airbus"},
    "Airbus A321": {"family": "Airbus A320 family", "manufacturer": "Airbus"},
    "Boeing 767": {"family": "Boeing 767", "manufacturer": "Boeing"},
    "Boeing 787": {"family": "Boeing 787", "manufacturer": "Boeing"},
}
TAXONOMY = Taxonomy.from_types(LABELS, TYPES, {"Airbus A320 family": "Airbus A320-family jet"})


def _meta(open_set: OpenSetRule | None = None) -> ClassifierMeta:
    return ClassifierMeta(LABELS, 224, (0, 0, 0), (1, 1, 1), 1.0, 0.2, "test", open_set)


def _found(probabilities: list[float], known: bool = True) -> FoundAircraft:
    logits = np.log(np.asarray([probabilities], dtype=np.float32))
    (assessment,) = assess(logits, _meta(), TAXONOMY, top_k=3)
    return FoundAircraft(
        box=(0, 0, 10, 10),
        score=0.9,
        types=assessment.types,
        family=assessment.family,
        manufacturer=assessment.manufacturer,
        known=known,
    )


def test_family_and_maker_probabilities_are_the_sums_of_their_types() -> None:
    # Given an A319 / A320 / A321 spread of 48 / 32 / 12% and the rest on Boeings
    found = _found([0.48, 0.32, 0.12, 0.05, 0.03])
    # Then the family A320 gets 92% and Airbus 92%, while the best type stays the A319
    assert found.family is not None and found.family.name == "Airbus A320 family"
    assert found.family.confidence == pytest.approx(0.92, abs=1e-5)
    assert found.family.n_types == 3
    assert found.manufacturer is not None and found.manufacturer.name == "Airbus"
    assert found.types[0].label == "Airbus A319"


def test_the_bot_names_the_family_when_it_is_sure_of_it_but_not_of_the_variant() -> None:
    # Given the A319 at 48% but its family at 92%
    found = _found([0.48, 0.32, 0.12, 0.05, 0.03])
    # Then it claims the family, and offers the variant as a maybe
    assert found.named.level == "family"
    assert describe_aircraft(found) == (
        "almost certainly an Airbus A320-family jet (92%), maybe an Airbus A319 (48%)"
    )
    assert label_text(1, found) == "1 Airbus A320 family 92%"


def test_a_sure_type_is_named_as_the_type() -> None:
    found = _found([0.05, 0.80, 0.05, 0.05, 0.05])
    assert found.named.level == "type"
    assert describe_aircraft(found) == "probably an Airbus A320 (80%)"


def test_the_maker_is_named_when_only_the_maker_is_sure() -> None:
    # Given a Boeing 767 / 787 toss-up (36 / 34%) with Boeing at 70%
    found = _found([0.10, 0.10, 0.10, 0.36, 0.34])
    assert found.named.level == "manufacturer"
    assert describe_aircraft(found, percent=False) == "probably a Boeing, most like a Boeing 767"


def test_nothing_sure_gives_the_two_best_guesses_with_a_question_mark() -> None:
    found = _found([0.30, 0.10, 0.10, 0.28, 0.22])
    assert found.named.level == "unsure"
    assert describe_aircraft(found).startswith("I'm not sure: an Airbus A319 or a Boeing 767?")


def test_an_aircraft_the_open_set_rule_does_not_know_is_not_named() -> None:
    # Given a crop that the open-set rule calls none of the known types, best guess a 787
    found = _found([0.02, 0.02, 0.02, 0.04, 0.90], known=False)
    # Then nothing is claimed, not even the 90% type, and the reply says what it looks like
    assert found.named.level == "unknown" and not found.named.is_claim
    assert describe_aircraft(found) == (
        "an aircraft I can't name: it looks a little like a Boeing 787"
    )
    assert label_text(1, found) == "1 unknown type"
    photo = Photo(image=Image.new("RGB", (10, 10)), width=10, height=10)
    reply = compose_reply("bob", [PhotoOutcome(Recognition(photo, (found,), {}))], weighted_length)
    assert "can't name" in reply and "(90%)" not in reply


def test_the_json_of_an_aircraft_carries_family_maker_and_what_is_named() -> None:
    data = _found([0.48, 0.32, 0.12, 0.05, 0.03]).to_dict()
    assert data["family"] == {"label": "Airbus A320 family", "confidence": 0.92}
    assert data["manufacturer"] == {"label": "Airbus", "confidence": 0.92}
    assert data["known"] is True
    assert data["named"] == {"level": "family", "label": "Airbus A320 family", "confidence": 0.92}


def test_the_open_set_scores_rank_a_peaked_answer_above_a_flat_one() -> None:
    # Given a confident row of logits and a flat one
    logits = np.asarray([[9.0, 1.0, 0.0], [2.0, 1.9, 1.8]])
    for score in ("max_logit", "max_probability", "energy"):
        confident, flat = open_set_scores(logits, 1.5, score)
        assert confident > flat, score
    # And the rule calls known exactly the rows at or above its threshold
    rule = OpenSetRule("max_logit", 5.0)
    assert rule.known(logits, 1.0).tolist() == [True, False]
    # And an assessment carries that verdict
    five = np.asarray([[9.0, 1.0, 0.0, 0.0, 0.0], [2.0, 1.9, 1.8, 1.7, 1.6]])
    assert [a.known for a in assess(five, _meta(rule), TAXONOMY, 3)] == [True, False]


def test_an_open_set_rule_with_an_unknown_score_or_no_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="open-set score"):
        OpenSetRule("entropy", 1.0)
    with pytest.raises(ValueError, match="finite"):
        OpenSetRule("max_logit", float("nan"))


def test_a_model_without_a_taxonomy_gets_the_flat_tree(tmp_path: Path) -> None:
    flat = Taxonomy.load(tmp_path, LABELS)
    assert flat.families == LABELS and flat.best_manufacturer(np.full(5, 0.2)) is None


def test_a_taxonomy_that_leaves_out_a_label_is_refused_in_one_line(tmp_path: Path) -> None:
    partial = TAXONOMY.to_dict()
    del partial["types"]["Boeing 787"]
    (tmp_path / TAXONOMY_FILE).write_text(json.dumps(partial))
    with pytest.raises(ModelError, match="no family for Boeing 787"):
        Taxonomy.load(tmp_path, LABELS)


def test_the_shipped_model_has_a_tree_for_every_label() -> None:
    # Given the shipped classifier
    meta = read_meta(SHIPPED_MODEL_DIR)
    taxonomy = Taxonomy.load(SHIPPED_MODEL_DIR, meta.labels)
    # Then every label has a family and a maker, and the A320 family holds A318 to A321
    assert all(taxonomy.manufacturers)
    a320 = [label for label in meta.labels if taxonomy.family_of(label) == "Airbus A320 family"]
    assert a320 == ["Airbus A318", "Airbus A319", "Airbus A320", "Airbus A321"]


def test_group_probabilities_sum_each_row_per_group() -> None:
    probabilities = np.asarray([[0.48, 0.32, 0.12, 0.05, 0.03]])
    groups, summed = TAXONOMY.group_probabilities(probabilities, "family")
    assert groups == ("Airbus A320 family", "Boeing 767", "Boeing 787")
    assert summed[0].tolist() == pytest.approx([0.92, 0.05, 0.03])
    assert TAXONOMY.group_index("family").tolist() == [0, 0, 0, 1, 2]


def test_a_model_that_claims_from_a_higher_bar_says_maybe_below_it() -> None:
    # Given a model whose claims start at 90% (its open-set experiment chose that bar)
    rule = OpenSetRule("max_probability", 0.0, sure_confidence=0.9)
    logits = np.log(np.asarray([[0.05, 0.04, 0.03, 0.03, 0.85], [0.31, 0.31, 0.31, 0.05, 0.02]]))
    below, family = assess(logits, _meta(rule), TAXONOMY, 3)
    # Then a 787 at 85% is not claimed, though it would be at the default bar (65%)
    assert below.sure_confidence == 0.9
    assert below.named.level == "unsure" and not below.named.is_claim
    assert most_specific_sure_level(below.types, below.family, below.manufacturer, True).is_claim
    # And the reply gives it as a likely guess, if it is a type the model knows (photos of
    # types it never saw are what get such confidences under the bar)
    found = FoundAircraft(
        (0, 0, 10, 10), 0.9, below.types, below.family, below.manufacturer, below.known,
        sure_confidence=below.sure_confidence,
    )  # fmt: skip
    assert describe_aircraft(found) == "looks like a Boeing 787 (85%), if it is a type I know"
    assert label_text(1, found) == "1 Boeing 787? 85%"  # the picture marks it a guess
    # And a guess under the default bar is a "maybe", with the runner-up
    lower = replace(found, types=(TypeGuess("Boeing 787", 0.55), TypeGuess("Airbus A319", 0.2)))
    assert describe_aircraft(lower) == "maybe a Boeing 787 (55%), or an Airbus A319"
    # And a family summed over the bar is still claimed
    assert family.named.level == "family" and family.named.label == "Airbus A320 family"


def test_the_bar_is_read_with_the_rule_and_a_rule_without_one_keeps_the_default() -> None:
    with_bar = OpenSetRule.from_dict({"score": "energy", "threshold": 1.5, "sure_confidence": 0.8})
    assert with_bar.sure_confidence == 0.8
    assert OpenSetRule.from_dict(with_bar.to_dict()) == with_bar
    assert OpenSetRule.from_dict({"score": "energy", "threshold": 1.5}).sure_confidence == 0.65
    for bad in (0.3, 1.0):
        with pytest.raises(ValueError, match="sure_confidence"):
            OpenSetRule("energy", 1.5, sure_confidence=bad)
