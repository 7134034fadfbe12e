"""How training draws its batches and mixes them: pure numpy, no torch needed."""

from __future__ import annotations

import numpy as np

from aircraftml.vision.train import cutmix_box, sample_weights


def test_cutmix_box_stays_inside_the_map_and_reports_the_share_left_outside_it() -> None:
    # Given a 14x14 feature map, as block 8 of EfficientNet-Lite0 gives
    rng = np.random.default_rng(0)
    keeps = []
    for _ in range(2000):
        # When a CutMix rectangle is drawn
        top, bottom, left, right, keep = cutmix_box(14, 14, rng)
        # Then it lies inside the map and `keep` is the share of the map outside it
        assert 0 <= top <= bottom <= 14 and 0 <= left <= right <= 14
        assert keep == 1 - (bottom - top) * (right - left) / 196
        keeps.append(keep)
    # And rectangles of every size are drawn, from nearly nothing to most of the map
    assert min(keeps) < 0.1 and max(keeps) > 0.95
    assert 0.5 < float(np.median(keeps)) < 0.9  # clipped at the edges, so keep leans high


def test_sample_weights_give_small_classes_more_draws_by_the_balancing_power() -> None:
    # Given 90 samples of one class and 10 of another
    labels = np.array([0] * 90 + [1] * 10)
    # When weights are taken with power 0 (as in the data) and 1 (classes equally often)
    as_is, balanced = sample_weights(labels, 0.0), sample_weights(labels, 1.0)
    # Then the classes' shares of the draws are 0.9/0.1 and 0.5/0.5
    assert np.isclose(as_is[labels == 1].sum(), 0.1)
    assert np.isclose(balanced[labels == 1].sum(), 0.5)
    assert np.isclose(balanced.sum(), 1.0)
