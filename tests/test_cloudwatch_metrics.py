"""The bot's metrics as CloudWatch embedded-metric log lines: what each series gained since
the last flush, in the format CloudWatch Logs extracts (the Lambda E2E is in test_lambdas)."""

from __future__ import annotations

import io
import json

from prometheus_client import CollectorRegistry, Counter, Histogram

from aircraftml.aws.cloudwatch_metrics import NAMESPACE, EmfFlusher


def test_a_flush_prints_what_each_series_gained_in_embedded_metric_format() -> None:
    # Given the bot's kinds of metric in a registry, and a flusher printing to a buffer
    registry = CollectorRegistry()
    mentions = Counter("aircraftml_mentions", "m", ["outcome"], registry=registry)
    calls = Counter("aircraftml_platform_api_calls", "c", ["platform", "status"], registry=registry)
    latency = Histogram("aircraftml_reply_latency_seconds", "l", registry=registry)
    Counter("other_total", "not the bot's", registry=registry).inc()
    out = io.StringIO()
    flusher = EmfFlusher("handler", registry=registry, out=out, clock=lambda: 1700000000.5)
    # When an invocation replies twice, calls X three times and flushes
    mentions.labels(outcome="replied").inc(2)
    calls.labels(platform="x", status="200").inc(3)
    latency.observe(1.5)
    latency.observe(2.5)
    flusher.flush()
    # Then one JSON line holds the gains, each declared under the namespace, with the function
    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert record["_aws"]["Timestamp"] == 1700000000500
    assert (directive["Namespace"], directive["Dimensions"]) == (NAMESPACE, [["Function"]])
    assert record["Function"] == "handler"
    gains = {m["Name"]: (record[m["Name"]], m["Unit"]) for m in directive["Metrics"]}
    assert gains == {
        "mentions_total.replied": (2.0, "Count"),
        "platform_api_calls_total.x.200": (3.0, "Count"),
        "reply_latency_seconds_count": (2.0, "Count"),
        "reply_latency_seconds_sum": (4.0, "Seconds"),
    }


def test_the_next_flush_holds_only_what_moved_since_and_nothing_when_nothing_did() -> None:
    registry = CollectorRegistry()
    mentions = Counter("aircraftml_mentions", "m", ["outcome"], registry=registry)
    out = io.StringIO()
    flusher = EmfFlusher("handler", registry=registry, out=out)
    mentions.labels(outcome="replied").inc()
    flusher.flush()
    # When nothing happens before the next flush, nothing is printed
    assert flusher.flush() is None
    # and after one more reply and a retry, the line holds those two only
    mentions.labels(outcome="replied").inc()
    mentions.labels(outcome="retry").inc()
    record = flusher.flush()
    assert record is not None
    assert (record["mentions_total.replied"], record["mentions_total.retry"]) == (1.0, 1.0)
    assert len(out.getvalue().splitlines()) == 2
