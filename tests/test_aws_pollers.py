"""The scheduled poller function on SQS and DynamoDB (moto): two invocations that overlap
(a slow one and the next minute's) queue each mention once, and stop before their time."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from aircraftml.aws.pollers import STOP_BEFORE_END_S, PollFunction
from aircraftml.platforms.mastodon.mentions import MastodonMentions
from aircraftml.poller import Poller
from e2e_support import jpeg
from mastodon_support import client_for, fast_fake_mastodon, served

pytest.importorskip("boto3", reason="the AWS backends need boto3 (the aws extra)")


class LambdaContext:
    """What Lambda passes a function: the time it has left."""

    def __init__(self, seconds: float) -> None:
        self._deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def test_overlapping_invocations_queue_each_mention_once(
    make_aws_client: Callable[[str], Any],
) -> None:
    from aircraftml.queue.sqs import SqsQueue
    from aircraftml.state.dynamodb import DynamoDbStateStore

    queue = SqsQueue.create(
        f"requests-{uuid.uuid4().hex[:10]}",
        max_receives=3,
        visibility_timeout_s=60,
        client=make_aws_client("sqs"),
        owns_client=True,
        drain_wait_s=0,
    )
    state = DynamoDbStateStore(f"state-{uuid.uuid4().hex[:10]}", client=make_aws_client("dynamodb"))
    state.create_table()
    fake = fast_fake_mastodon()
    with served(fake) as base_url:
        posts = [fake.mention(f"u{n}", "@aircraftml ?", [jpeg()]) for n in range(8)]

        def invocation() -> PollFunction:
            poller = Poller(MastodonMentions(client_for(fake, base_url)), state, queue.send)
            return PollFunction([poller], interval_s=0.3)

        results: list[dict[str, int]] = []
        left_at_return_s: list[float] = []

        def invoke() -> None:
            context = LambdaContext(STOP_BEFORE_END_S + 3)
            results.append(invocation()(None, context))
            left_at_return_s.append(context.get_remaining_time_in_millis() / 1000)

        calls = [threading.Thread(target=invoke) for _ in range(2)]
        for call in calls:
            call.start()
        for call in calls:
            call.join()
    queued = []
    while messages := queue.receive(max_messages=10, wait_s=0, visibility_timeout_s=60):
        queued += [json.loads(m.body)["post_id"] for m in messages]
    queue.close()
    assert sorted(queued) == sorted(posts)
    assert sum(r["queued"] for r in results) == 8
    assert all(r["polls"] >= 1 for r in results)
    assert min(left_at_return_s) > 0  # each returned before Lambda would have stopped it
