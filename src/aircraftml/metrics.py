"""The bot's metrics, in one place (Prometheus names; ``web.metrics_endpoint`` serves them).

Counters and histograms are per process and summed over the processes of one ``serve`` in
multiprocess mode (``metrics_dir``); the queue's depth is read from the queue when
``/metrics`` is scraped, so every process reports the same truth.

    aircraftml_webhook_deliveries_total{status}      webhook POSTs answered, by HTTP status
    aircraftml_events_queued_total                   mentions the webhook queued
    aircraftml_mentions_total{outcome}               mentions handled: replied, help sent,
                                                     already replied..., or retry, waiting,
                                                     dead-lettered
    aircraftml_reply_latency_seconds                 mention received -> reply posted
    aircraftml_recognition_stage_seconds{stage,source}  decode, detect, classify, total;
                                                     source bot or page
    aircraftml_platform_api_calls_total{platform,status}  requests to each network, its API
                                                     and photo hosts (status "error" when
                                                     no answer came: ``platforms.transport``)
    aircraftml_rate_limit_waits_total                times a mention waited for the limit
    aircraftml_page_photos_total{status}             photos sent to the page, by status
    aircraftml_queue_messages{state}                 ready, in_flight, delayed, dead
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Histogram

WEBHOOK_DELIVERIES = Counter(
    "aircraftml_webhook_deliveries", "Webhook deliveries answered, by HTTP status", ["status"]
)
EVENTS_QUEUED = Counter("aircraftml_events_queued", "Mentions the webhook put on the queue")
MENTIONS = Counter("aircraftml_mentions", "Mentions handled, by outcome", ["outcome"])
REPLY_LATENCY = Histogram(
    "aircraftml_reply_latency_seconds",
    "Time from a mention's arrival at the webhook to the bot's reply posted",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0),
)
RECOGNITION_STAGE = Histogram(
    "aircraftml_recognition_stage_seconds",
    "Time of each stage of recognising one photo",
    ["stage", "source"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PLATFORM_CALLS = Counter(
    "aircraftml_platform_api_calls",
    "Requests to each network (its API and photo hosts), by status",
    ["platform", "status"],
)
RATE_LIMIT_WAITS = Counter(
    "aircraftml_rate_limit_waits", "Times a mention waited for the platform's rate limit"
)
PAGE_PHOTOS = Counter(
    "aircraftml_page_photos", "Photos sent to the try-a-photo page, by HTTP status", ["status"]
)


def observe_recognition(timings_ms: Mapping[str, float], source: str) -> None:
    for stage, ms in timings_ms.items():
        RECOGNITION_STAGE.labels(stage=stage, source=source).observe(ms / 1000.0)
