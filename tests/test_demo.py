"""``make demo`` twice in a row: the second run answers every mention too, on all three
networks (its queue and state used to survive the first run while the fake X started its
post ids again)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aircraftml.demo import run_demo


@pytest.mark.slow
def test_a_second_demo_run_answers_every_mention(tmp_path: Path) -> None:
    # Given a demo that has run once into a folder
    first = run_demo(tmp_path, workers=1, timeout_s=60, echo=lambda line: None)
    assert all(exchange.answered for exchange in first)
    # When it runs again into the same folder
    second = run_demo(tmp_path, workers=1, timeout_s=60, echo=lambda line: None)
    # Then every mention is answered again, and fast
    assert [e.answered for e in second] == [True] * len(second)
    assert {e.network for e in second} == {"x", "mastodon", "bluesky"}
    assert max(e.seconds for e in second) < 30
