"""A RequestQueue on Amazon SQS (standard queues), through boto3.

The retry budget lives on the queue, server-side: its RedrivePolicy names the dead-letter
queue and ``maxReceiveCount``. This class reads that policy (lazily, once) so that

- ``retry`` of a message that has used its last try dead-letters it at once, keeping the
  error as the reason (SQS alone would move it later with no reason);
- the dead-letter queue's URL need not be given twice.

Messages that SQS moves by itself (a worker died holding them) are listed with the reason
``give_up_reason(maxReceiveCount, None)``.

SQS counts time in whole seconds: visibility timeouts and delays are rounded up, long-poll
waits rounded down (at most 20 s), delays capped at 15 minutes. A message keeps its id
across dead-lettering, redrive and ``defer``: we carry the first id as the ``aircraftml.id``
message attribute. SQS cannot lower a receive count, so ``defer`` sends a copy (delayed,
carrying the tries already spent in ``aircraftml.tries_before``) and deletes the original;
a crash between the two leaves one extra copy, which the idempotency key absorbs. Stale
receipts are as safe as SQS makes them: SQS reports some as invalid (we log and ignore
those) but may act on others; the handler's idempotency key is the guard.

URL form for ``open_queue``::

    sqs://<region>/<account-id>/<queue-name>[?dlq=<queue-name>&endpoint_url=<http://host:port>]

``endpoint_url`` points at an SQS-compatible server (moto, ElasticMQ, LocalStack);
``dlq`` is only needed when the queue has no RedrivePolicy.
"""

from __future__ import annotations

import json
import logging
import math
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from aircraftml.aws._boto import boto_errors, error_code, make_client
from aircraftml.errors import ConfigError, PermanentError, TransientError
from aircraftml.queue.base import DeadLetter, Message, QueueStats, give_up_reason

logger = logging.getLogger(__name__)

MAX_BATCH = 10
MAX_BATCH_BYTES = 256 * 1024
MAX_WAIT_S = 20
MAX_VISIBILITY_S = 43_200
MAX_DELAY_S = 900
MAX_REASON_CHARS = 4_000
PEEK_VISIBILITY_S = 30
MOVE_TASK_POLL_S = 0.5
SHORT_POLL_INTERVAL_S = 0.1

ATTR_ID = "aircraftml.id"
ATTR_REASON = "aircraftml.reason"
ATTR_DEAD_AT = "aircraftml.dead_at_epoch_s"
ATTR_RECEIVE_COUNT = "aircraftml.receive_count"
ATTR_TRIES_BEFORE = "aircraftml.tries_before"

_STALE_RECEIPT_CODES = frozenset(
    {
        "ReceiptHandleIsInvalid",
        "AWS.SimpleQueueService.MessageNotInflight",
        "MessageNotInflight",
        "InvalidParameterValue",
    }
)


@dataclass(frozen=True, slots=True)
class RedrivePolicy:
    """The queue's server-side retry budget; both None when the queue has none."""

    dead_letter_queue_url: str | None
    max_receives: int | None


class SqsQueue:
    """A RequestQueue on SQS. See ``aircraftml.queue.base`` for the contract.

    ``client`` is a boto3 SQS client (one is made from ``region``/``endpoint_url`` when
    omitted). ``drain_wait_s`` is how long listing or redriving long-polls the dead-letter
    queue before deciding it is empty (SQS short polls can miss messages). ``move_task``
    False skips StartMessageMoveTask and always moves dead letters one batch at a time.
    ``owns_client`` True makes ``close`` close a client that was passed in.
    """

    def __init__(
        self,
        queue_url: str,
        *,
        dead_letter_queue_url: str | None = None,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        drain_wait_s: float = 1.0,
        move_task: bool = True,
        move_task_timeout_s: float = 60.0,
        owns_client: bool = False,
    ) -> None:
        self.queue_url = queue_url
        self._owns_client = client is None or owns_client
        if client is None:
            region = region or region_from_queue_url(queue_url)
            client = make_client("sqs", region=region, endpoint_url=endpoint_url)
        self._client = client
        self._dlq_url_given = dead_letter_queue_url
        self._policy: RedrivePolicy | None = None
        self._drain_wait_s = drain_wait_s
        self._move_task = move_task
        self._move_task_timeout_s = move_task_timeout_s

    @classmethod
    def create(
        cls,
        queue_name: str,
        *,
        max_receives: int = 5,
        visibility_timeout_s: int = 30,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        **options: Any,
    ) -> SqsQueue:
        """Create (or open, if it exists alike) ``queue_name`` and ``<queue_name>-dlq``.

        The queue gets a RedrivePolicy with ``maxReceiveCount = max_receives``. On AWS the
        SAM template owns the queues; this is for local servers, tests and scripts.
        ``options`` go to the constructor (``drain_wait_s``, ``move_task``...).
        """
        if max_receives < 1:
            raise ValueError(f"max_receives must be >= 1, got {max_receives}")
        if client is None:
            client = make_client("sqs", region=region, endpoint_url=endpoint_url)
            options.setdefault("owns_client", True)
        with boto_errors(f"creating queue {queue_name}"):
            dlq_url = client.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
            dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
            attributes = {
                "RedrivePolicy": json.dumps(policy),
                "VisibilityTimeout": str(visibility_timeout_s),
            }
            queue_url = client.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        return cls(str(queue_url), dead_letter_queue_url=str(dlq_url), client=client, **options)

    # -- the contract -----------------------------------------------------------------

    def send(self, bodies: Sequence[str], delay_s: float = 0.0) -> list[str]:
        delay = _whole_seconds_up(delay_s, MAX_DELAY_S)
        entries = [{"MessageBody": body, "DelaySeconds": delay} for body in bodies]
        return self._send_entries(self.queue_url, entries, "sending messages")

    def receive(
        self, max_messages: int = 1, wait_s: float = 0.0, visibility_timeout_s: float = 30.0
    ) -> list[Message]:
        if max_messages < 1:
            raise ValueError(f"max_messages must be >= 1, got {max_messages}")
        visibility = _whole_seconds_up(visibility_timeout_s, MAX_VISIBILITY_S)
        messages = self._poll(min(MAX_BATCH, max_messages), wait_s, visibility)
        while messages and len(messages) < max_messages and len(messages) % MAX_BATCH == 0:
            want = min(MAX_BATCH, max_messages - len(messages))
            more = self._receive_raw(self.queue_url, want, 0, visibility)
            messages.extend(_to_message(item) for item in more)
            if len(more) < want:
                break
        return messages

    def ack(self, message: Message) -> None:
        self._call_owned(
            "ack", message, "delete_message", QueueUrl=self.queue_url, ReceiptHandle=message.receipt
        )

    def ack_many(self, messages: Sequence[Message]) -> None:
        """Delete several messages with DeleteMessageBatch (ten per call)."""
        for chunk in _chunks(list(messages), MAX_BATCH):
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(chunk)]
            response = self._call(
                "deleting messages",
                "delete_message_batch",
                QueueUrl=self.queue_url,
                Entries=entries,
            )
            _log_batch_failures(response, "ack")

    def retry(self, message: Message, delay_s: float, reason: str) -> None:
        max_receives = self._redrive_policy().max_receives
        if max_receives is not None and message.receive_count >= max_receives:
            self.dead_letter(message, give_up_reason(message.receive_count, reason))
            return
        logger.info("message %s retried in %.1f s: %s", message.id, delay_s, reason)
        self._change_visibility(message, _whole_seconds_up(delay_s, MAX_VISIBILITY_S), "retry")

    def defer(self, message: Message, delay_s: float, reason: str) -> None:
        attributes = {
            ATTR_ID: _string_attribute(message.id),
            ATTR_TRIES_BEFORE: {
                "DataType": "Number",
                "StringValue": str(max(message.receive_count - 1, 0)),
            },
        }
        self._call(
            f"deferring message {message.id}",
            "send_message",
            QueueUrl=self.queue_url,
            MessageBody=message.body,
            DelaySeconds=_whole_seconds_up(delay_s, MAX_DELAY_S),
            MessageAttributes=attributes,
        )
        self.ack(message)
        logger.info("message %s deferred %.1f s: %s", message.id, delay_s, reason)

    def extend(self, message: Message, visibility_timeout_s: float) -> None:
        timeout = _whole_seconds_up(visibility_timeout_s, MAX_VISIBILITY_S)
        self._change_visibility(message, timeout, "extend")

    def dead_letter(self, message: Message, reason: str) -> None:
        dlq_url = self._require_dead_letter_queue()
        attributes = _dead_letter_attributes(message, reason, time.time())
        self._call(
            "sending a dead letter",
            "send_message",
            QueueUrl=dlq_url,
            MessageBody=message.body,
            MessageAttributes=attributes,
        )
        self.ack(message)
        logger.warning("message %s dead-lettered: %s", message.id, reason)

    def stats(self) -> QueueStats:
        counts = self._approximate_counts(self.queue_url)
        dlq_url = self._dead_letter_queue_url()
        dead = 0
        if dlq_url is not None:
            dlq_counts = self._approximate_counts(dlq_url)
            dead = dlq_counts["ApproximateNumberOfMessages"]
            dead += dlq_counts["ApproximateNumberOfMessagesNotVisible"]
        return QueueStats(
            ready=counts["ApproximateNumberOfMessages"],
            in_flight=counts["ApproximateNumberOfMessagesNotVisible"],
            delayed=counts["ApproximateNumberOfMessagesDelayed"],
            dead=dead,
        )

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` dead letters, oldest first. They stay in the dead-letter queue."""
        dlq_url = self._dead_letter_queue_url()
        if dlq_url is None or limit < 1:
            return []
        letters: dict[str, DeadLetter] = {}
        seen: list[dict[str, Any]] = []
        try:
            for batch in self._drain(dlq_url, limit):
                seen.extend(batch)
                for item in batch:
                    letter = self._to_dead_letter(item)
                    letters.setdefault(letter.id, letter)
        finally:
            self._make_visible(dlq_url, seen)
        return sorted(letters.values(), key=lambda d: d.dead_at_epoch_s)[:limit]

    def redrive(self, ids: Sequence[str] | None = None) -> int:
        """Move dead letters back to the queue; returns how many moved.

        All of them: with StartMessageMoveTask where the server has it (waiting up to
        ``move_task_timeout_s`` for the task to finish), else batch by batch. Chosen ids:
        always batch by batch.
        """
        dlq_url = self._require_dead_letter_queue()
        if ids is None:
            moved = self._redrive_with_move_task(dlq_url)
            if moved is not None:
                return moved
        return self._redrive_by_hand(dlq_url, None if ids is None else set(ids))

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> SqsQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _poll(self, max_messages: int, wait_s: float, visibility_s: int) -> list[Message]:
        """Long polls of whole seconds (20 at most each), then short polls for the rest."""
        deadline_s = time.monotonic() + max(0.0, wait_s)
        while True:
            left_s = deadline_s - time.monotonic()
            wait = min(MAX_WAIT_S, max(0, math.floor(left_s)))
            raw = self._receive_raw(self.queue_url, max_messages, wait, visibility_s)
            if raw or left_s <= 0:
                return [_to_message(item) for item in raw]
            if wait == 0:
                time.sleep(min(SHORT_POLL_INTERVAL_S, max(0.0, deadline_s - time.monotonic())))

    # -- redrive ------------------------------------------------------------------------

    def _redrive_with_move_task(self, dlq_url: str) -> int | None:
        """Moved count, or None when the server has no StartMessageMoveTask for us."""
        if not self._move_task:
            return None
        dlq_arn = self._queue_arn(dlq_url)
        try:
            response = self._client.start_message_move_task(
                SourceArn=dlq_arn, DestinationArn=self._queue_arn(self.queue_url)
            )
        except Exception as exc:
            if error_code(exc) == "":
                raise
            logger.warning(
                "StartMessageMoveTask unavailable (%s); moving dead letters batch by batch",
                error_code(exc),
            )
            self._move_task = False
            return None
        return self._wait_for_move_task(dlq_arn, str(response["TaskHandle"]))

    def _wait_for_move_task(self, dlq_arn: str, task_handle: str) -> int:
        deadline_s = time.monotonic() + self._move_task_timeout_s
        while True:
            response = self._call(
                "listing move tasks", "list_message_move_tasks", SourceArn=dlq_arn, MaxResults=10
            )
            task: dict[str, Any] = next(
                (t for t in response.get("Results", []) if t.get("TaskHandle") == task_handle),
                {},
            )
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            status = task.get("Status", "RUNNING")
            if status != "RUNNING" or time.monotonic() >= deadline_s:
                if status == "FAILED":
                    raise TransientError(f"redrive task failed: {task.get('FailureReason')}")
                logger.info("redrive task %s: %s, %d moved", task_handle, status, moved)
                return moved
            time.sleep(MOVE_TASK_POLL_S)

    def _redrive_by_hand(self, dlq_url: str, wanted: set[str] | None) -> int:
        moved = 0
        skipped: list[dict[str, Any]] = []
        try:
            for batch in self._drain(dlq_url, None):
                chosen = [m for m in batch if wanted is None or _letter_id(m) in wanted]
                skipped.extend(m for m in batch if m not in chosen)
                moved += self._move_to_source(dlq_url, chosen)
        finally:
            self._make_visible(dlq_url, skipped)
        if moved:
            logger.info("redrove %d dead letters", moved)
        return moved

    def _move_to_source(self, dlq_url: str, items: list[dict[str, Any]]) -> int:
        if not items:
            return 0
        entries = [
            {
                "MessageBody": item["Body"],
                "MessageAttributes": {ATTR_ID: _string_attribute(_letter_id(item))},
            }
            for item in items
        ]
        self._send_entries(self.queue_url, entries, "redriving dead letters")
        self._delete_raw(dlq_url, items)
        return len(items)

    def _drain(self, queue_url: str, limit: int | None) -> Iterator[list[dict[str, Any]]]:
        """Batches received from ``queue_url`` (hidden for a while) until it looks empty."""
        taken = 0
        while limit is None or taken < limit:
            want = MAX_BATCH if limit is None else min(MAX_BATCH, limit - taken)
            batch = self._receive_raw(queue_url, want, 0, PEEK_VISIBILITY_S)
            if not batch and self._drain_wait_s > 0:
                wait = min(MAX_WAIT_S, max(1, math.ceil(self._drain_wait_s)))
                batch = self._receive_raw(queue_url, want, wait, PEEK_VISIBILITY_S)
            if not batch:
                return
            taken += len(batch)
            yield batch

    # -- the redrive policy and the dead-letter queue ----------------------------------------

    def _redrive_policy(self) -> RedrivePolicy:
        if self._policy is None:
            self._policy = self._load_redrive_policy()
        return self._policy

    def _load_redrive_policy(self) -> RedrivePolicy:
        response = self._call(
            "reading the redrive policy",
            "get_queue_attributes",
            QueueUrl=self.queue_url,
            AttributeNames=["RedrivePolicy"],
        )
        raw = response.get("Attributes", {}).get("RedrivePolicy")
        if not raw:
            logger.warning("queue %s has no RedrivePolicy: messages retry forever", self.queue_url)
            return RedrivePolicy(self._dlq_url_given, None)
        policy = json.loads(raw)
        dlq_url = self._dlq_url_given or self._url_of_arn(str(policy["deadLetterTargetArn"]))
        return RedrivePolicy(dlq_url, int(policy["maxReceiveCount"]))

    def _dead_letter_queue_url(self) -> str | None:
        return self._dlq_url_given or self._redrive_policy().dead_letter_queue_url

    def _require_dead_letter_queue(self) -> str:
        dlq_url = self._dead_letter_queue_url()
        if dlq_url is None:
            raise ConfigError(
                f"queue {self.queue_url} has no dead-letter queue: give dead_letter_queue_url "
                "(?dlq= in the URL) or set a RedrivePolicy on the queue"
            )
        return dlq_url

    def _url_of_arn(self, arn: str) -> str:
        _, _, _, _, account, name = arn.split(":", 5)
        response = self._call(
            "finding the dead-letter queue",
            "get_queue_url",
            QueueName=name,
            QueueOwnerAWSAccountId=account,
        )
        return str(response["QueueUrl"])

    def _queue_arn(self, queue_url: str) -> str:
        response = self._call(
            "reading a queue ARN",
            "get_queue_attributes",
            QueueUrl=queue_url,
            AttributeNames=["QueueArn"],
        )
        return str(response["Attributes"]["QueueArn"])

    def _to_dead_letter(self, item: dict[str, Any]) -> DeadLetter:
        attributes = item.get("MessageAttributes", {})
        fallback_count = self._redrive_policy().max_receives or 0
        receive_count = int(_attribute(attributes, ATTR_RECEIVE_COUNT) or fallback_count)
        reason = _attribute(attributes, ATTR_REASON) or give_up_reason(receive_count, None)
        sent_at_s = int(item.get("Attributes", {}).get("SentTimestamp", "0")) / 1000.0
        dead_at_s = float(_attribute(attributes, ATTR_DEAD_AT) or sent_at_s)
        return DeadLetter(_letter_id(item), item["Body"], receive_count, reason, dead_at_s)

    # -- boto3 calls ---------------------------------------------------------------------

    def _call(self, action: str, method: str, **kwargs: Any) -> dict[str, Any]:
        with boto_errors(action):
            response: dict[str, Any] = getattr(self._client, method)(**kwargs)
        return response

    def _call_owned(self, action: str, message: Message, method: str, **kwargs: Any) -> None:
        """Call ``method`` for one delivery; a receipt SQS calls stale is logged and ignored."""
        try:
            getattr(self._client, method)(**kwargs)
        except Exception as exc:
            if error_code(exc) not in _STALE_RECEIPT_CODES:
                with boto_errors(f"{action} of message {message.id}"):
                    raise
            logger.info("%s of message %s ignored: stale receipt (%s)", action, message.id, exc)

    def _change_visibility(self, message: Message, timeout_s: int, action: str) -> None:
        self._call_owned(
            action,
            message,
            "change_message_visibility",
            QueueUrl=self.queue_url,
            ReceiptHandle=message.receipt,
            VisibilityTimeout=timeout_s,
        )

    def _receive_raw(
        self, queue_url: str, max_messages: int, wait_s: int, visibility_s: int
    ) -> list[dict[str, Any]]:
        response = self._call(
            "receiving messages",
            "receive_message",
            QueueUrl=queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_s,
            VisibilityTimeout=visibility_s,
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames=["aircraftml.*"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _send_entries(
        self, queue_url: str, entries: list[dict[str, Any]], action: str
    ) -> list[str]:
        ids: list[str] = []
        for chunk in _batches_by_size(entries):
            numbered = [{"Id": str(i), **entry} for i, entry in enumerate(chunk)]
            response = self._call(
                action, "send_message_batch", QueueUrl=queue_url, Entries=numbered
            )
            _raise_on_failed_sends(response, action)
            by_entry = {ok["Id"]: str(ok["MessageId"]) for ok in response.get("Successful", [])}
            ids.extend(by_entry[str(i)] for i in range(len(chunk)))
        return ids

    def _delete_raw(self, queue_url: str, items: list[dict[str, Any]]) -> None:
        for chunk in _chunks(items, MAX_BATCH):
            entries = [
                {"Id": str(i), "ReceiptHandle": item["ReceiptHandle"]}
                for i, item in enumerate(chunk)
            ]
            response = self._call(
                "deleting messages", "delete_message_batch", QueueUrl=queue_url, Entries=entries
            )
            _log_batch_failures(response, "delete")

    def _make_visible(self, queue_url: str, items: list[dict[str, Any]]) -> None:
        for chunk in _chunks(items, MAX_BATCH):
            entries = [
                {"Id": str(i), "ReceiptHandle": item["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, item in enumerate(chunk)
            ]
            response = self._call(
                "making messages visible",
                "change_message_visibility_batch",
                QueueUrl=queue_url,
                Entries=entries,
            )
            _log_batch_failures(response, "make visible")

    def _approximate_counts(self, queue_url: str) -> dict[str, int]:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        response = self._call(
            "reading queue counts", "get_queue_attributes", QueueUrl=queue_url, AttributeNames=names
        )
        attributes = response.get("Attributes", {})
        return {name: int(attributes.get(name, 0)) for name in names}


# -- URLs ----------------------------------------------------------------------------------


def queue_url_for(region: str, account_id: str, queue_name: str, endpoint_url: str | None) -> str:
    """The SQS queue URL, on AWS or on the SQS-compatible server at ``endpoint_url``."""
    base = endpoint_url.rstrip("/") if endpoint_url else f"https://sqs.{region}.amazonaws.com"
    return f"{base}/{account_id}/{queue_name}"


def region_from_queue_url(queue_url: str) -> str | None:
    """``eu-west-1`` from ``https://sqs.eu-west-1.amazonaws.com/...``; None if not on AWS."""
    host = urllib.parse.urlsplit(queue_url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 4 and parts[0] == "sqs" and parts[2] == "amazonaws":
        return parts[1]
    return None


def open_sqs_queue(url: str, **options: Any) -> SqsQueue:
    """An SqsQueue from ``sqs://<region>/<account-id>/<queue>[?dlq=<queue>&endpoint_url=...]``.

    ``options`` go to the constructor (``client``, ``drain_wait_s``...).
    """
    parts = urllib.parse.urlsplit(url)
    path = [p for p in parts.path.split("/") if p]
    if parts.scheme != "sqs" or not parts.netloc or len(path) != 2:
        raise ConfigError(
            f"queue URL {url!r}: expected sqs://<region>/<account-id>/<queue-name>"
            "[?dlq=<queue-name>&endpoint_url=<http://host:port>]"
        )
    query = dict(urllib.parse.parse_qsl(parts.query))
    region, (account_id, name) = parts.netloc, path
    endpoint_url = query.get("endpoint_url")
    dlq_name = query.get("dlq")
    dlq_url = queue_url_for(region, account_id, dlq_name, endpoint_url) if dlq_name else None
    return SqsQueue(
        queue_url_for(region, account_id, name, endpoint_url),
        dead_letter_queue_url=dlq_url,
        endpoint_url=endpoint_url,
        region=region,
        **options,
    )


# -- pure helpers --------------------------------------------------------------------------


def _whole_seconds_up(seconds: float, most: int) -> int:
    return min(most, max(0, math.ceil(seconds)))


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _batches_by_size(entries: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Entries in batches of at most ten and at most 256 KiB of bodies."""
    batch: list[dict[str, Any]] = []
    batch_bytes = 0
    for entry in entries:
        size = len(entry["MessageBody"].encode())
        if batch and (len(batch) == MAX_BATCH or batch_bytes + size > MAX_BATCH_BYTES):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(entry)
        batch_bytes += size
    if batch:
        yield batch


def _raise_on_failed_sends(response: dict[str, Any], action: str) -> None:
    failed = response.get("Failed", [])
    if not failed:
        return
    first = failed[0]
    message = f"{action}: {len(failed)} failed, e.g. {first.get('Code')}: {first.get('Message')}"
    if any(f.get("SenderFault") for f in failed):
        raise PermanentError(message)
    raise TransientError(message)


def _log_batch_failures(response: dict[str, Any], action: str) -> None:
    for failure in response.get("Failed", []):
        logger.info("%s ignored for one message: %s", action, failure.get("Code"))


def _string_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def _attribute(attributes: dict[str, Any], name: str) -> str | None:
    value = attributes.get(name, {}).get("StringValue")
    return None if value is None else str(value)


def _letter_id(item: dict[str, Any]) -> str:
    return _attribute(item.get("MessageAttributes", {}), ATTR_ID) or str(item["MessageId"])


def _to_message(item: dict[str, Any]) -> Message:
    received = int(item.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
    tries_before = _attribute(item.get("MessageAttributes", {}), ATTR_TRIES_BEFORE)
    return Message(
        id=_letter_id(item),
        body=str(item["Body"]),
        receive_count=received + int(tries_before or 0),
        receipt=str(item["ReceiptHandle"]),
    )


def _dead_letter_attributes(
    message: Message, reason: str, dead_at_epoch_s: float
) -> dict[str, dict[str, str]]:
    return {
        ATTR_ID: _string_attribute(message.id),
        ATTR_REASON: _string_attribute(reason[:MAX_REASON_CHARS] or "no reason given"),
        ATTR_DEAD_AT: {"DataType": "Number", "StringValue": repr(dead_at_epoch_s)},
        ATTR_RECEIVE_COUNT: {"DataType": "Number", "StringValue": str(message.receive_count)},
    }
