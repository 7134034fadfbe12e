"""The dashboard's chart: mentions and replies per bucket, from snapshots of the totals."""

from __future__ import annotations

from aircraftml.web.activity import Activity


def test_buckets_hold_the_differences_of_the_totals(clock) -> None:
    totals = [0.0, 0.0]
    activity = Activity(lambda: (totals[0], totals[1]), clock=clock)
    start = clock()
    activity.sample()
    # Given 5 mentions and 4 replies in the first 10 minutes, 2 and 3 in the next
    clock.advance(300)
    totals[:] = [5, 4]
    activity.sample()
    clock.advance(600)
    totals[:] = [7, 7]
    # When the chart is drawn
    buckets = activity.buckets(bucket_s=600)
    # Then each bucket has its own counts
    assert [(b.mentions, b.replies) for b in buckets] == [(5, 4), (2, 3)]
    assert buckets[0].start_epoch_s <= start
