"""The Lambda functions of template.yaml: thin adapters from AWS event shapes to the bot.

``webhook_handler``  API Gateway proxy integration (HTTP API payload 2.0, or REST API 1.0)
                     -> ``WebhookEndpoint.challenge`` (GET) / ``.deliver`` (POST), the same
                     rules as behind ``aircraftml serve``; the answer as a proxy response.
``sqs_handler``      an SQS event source mapping batch -> for each record, the worker's own
                     ``Worker.judge`` (handle it, map any error); then, per verdict:

                         Done           nothing: Lambda deletes the message
                         RetryLater     its visibility set to the delay, and reported in
                                        ``batchItemFailures`` so that only it comes back
                         WaitFor        deferred (a delayed copy that spends no try), and
                                        the original deleted (not reported)
                         DeadLetterNow  sent to the dead-letter queue with the reason, and
                                        deleted (not reported: it must not be retried)

                     The template sets ``FunctionResponseTypes: [ReportBatchItemFailures]``.

Settings come from the environment, with the X credentials read from SSM Parameter Store
under ``AIRCRAFTML_AWS_SECRETS_SSM_PATH`` laid over it (``aws.secrets``). Each function
builds its parts once per container, on its first invocation, and keeps them: the queue
and state clients, and for the handler the ONNX sessions. ``WebhookFunction.from_environ``
and ``SqsFunction.from_environ`` build them from any mapping (tests pass one in). After
each invocation the bot's metrics go to CloudWatch as one embedded-metric log line
(``aws.cloudwatch_metrics``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from aircraftml.assembly import build_endpoint, build_handler, build_queue, build_state
from aircraftml.aws.cloudwatch_metrics import EmfFlusher
from aircraftml.aws.secrets import SSM_PATH_VARIABLE, settings_environ_from_ssm
from aircraftml.config import Settings
from aircraftml.errors import AircraftMLError
from aircraftml.queue.base import Message, RequestQueue
from aircraftml.queue.sqs import ATTR_ID, ATTR_TRIES_BEFORE
from aircraftml.webhook import Answer, WebhookEndpoint
from aircraftml.worker import DeadLetterNow, Done, WaitFor, Worker

logger = logging.getLogger(__name__)

Event = Mapping[str, Any]
SIGNATURE_HEADER = "x-twitter-webhooks-signature"
JSON_HEADERS = {"content-type": "application/json"}


def load_settings(environ: Mapping[str, str], *, ssm_client: Any = None) -> Settings:
    """Settings from ``environ``, with the SSM parameters under its secrets path laid over."""
    path = environ.get(SSM_PATH_VARIABLE)
    secrets = settings_environ_from_ssm(path, client=ssm_client) if path else {}
    return Settings.load({**environ, **secrets})


# -- the webhook ----------------------------------------------------------------------------


class WebhookFunction:
    """API Gateway proxy events in, proxy responses out, through one ``WebhookEndpoint``."""

    def __init__(self, endpoint: WebhookEndpoint) -> None:
        self.endpoint = endpoint

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, ssm_client: Any = None) -> WebhookFunction:
        settings = load_settings(environ, ssm_client=ssm_client)
        queue = build_queue(settings)
        return cls(build_endpoint(settings, queue.send))

    def __call__(self, event: Event, context: object = None) -> dict[str, Any]:
        method = http_method(event)
        if method == "GET":
            answer = self.endpoint.challenge(query_parameter(event, "crc_token"))
        elif method == "POST":
            headers = lower_case_headers(event)
            raw_body = request_body(event)
            if raw_body is None:
                answer = Answer(400, {"error": "body is not valid base64"})
            else:
                answer = self.endpoint.deliver(
                    raw_body, headers.get(SIGNATURE_HEADER), headers.get("content-type")
                )
        else:
            answer = Answer(405, {"error": f"method {method or '?'} not allowed"})
        return proxy_response(answer)


def http_method(event: Event) -> str:
    """``httpMethod`` (payload 1.0) or ``requestContext.http.method`` (2.0), upper case."""
    method = event.get("httpMethod") or (
        (event.get("requestContext") or {}).get("http", {}).get("method")
    )
    return str(method or "").upper()


def query_parameter(event: Event, name: str) -> str | None:
    parameters = event.get("queryStringParameters") or {}
    value = parameters.get(name)
    return None if value is None else str(value)


def lower_case_headers(event: Event) -> dict[str, str]:
    """The headers, names in lower case (API Gateway keeps the client's case in 1.0)."""
    return {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}


def request_body(event: Event) -> bytes | None:
    """The raw body bytes (what the signature covers); None when base64 does not decode."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None


def proxy_response(answer: Answer) -> dict[str, Any]:
    return {
        "statusCode": answer.status,
        "headers": dict(JSON_HEADERS),
        "body": json.dumps(answer.body),
        "isBase64Encoded": False,
    }


# -- the SQS-fed handler --------------------------------------------------------------------


class SqsFunction:
    """SQS batches in, ``{"batchItemFailures": [...]}`` out, through the worker's judgement."""

    def __init__(self, queue: RequestQueue, worker: Worker) -> None:
        self.queue = queue
        self.worker = worker

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, ssm_client: Any = None) -> SqsFunction:
        settings = load_settings(environ, ssm_client=ssm_client)
        queue = build_queue(settings)
        handler = build_handler(settings, build_state(settings))
        return cls(
            queue, Worker(queue, handler, visibility_timeout_s=settings.visibility_timeout_s)
        )

    def __call__(self, event: Event, context: object = None) -> dict[str, Any]:
        failures = []
        for record in event.get("Records") or []:
            if not self._settled(record):
                failures.append({"itemIdentifier": str(record.get("messageId", ""))})
        return {"batchItemFailures": failures}

    def _settled(self, record: Mapping[str, Any]) -> bool:
        """True when the record may be deleted (done, or dead-lettered by us)."""
        message = message_from_record(record)
        verdict = self.worker.judge(message)
        if isinstance(verdict, Done):
            return True
        try:
            if isinstance(verdict, DeadLetterNow):
                self.queue.dead_letter(message, verdict.reason)
                return True
            if isinstance(verdict, WaitFor):
                self.queue.defer(message, delay_s=verdict.delay_s, reason=verdict.reason)
                return True
            # on its last try ``retry`` dead-letters it; reporting it then does no harm
            self.queue.retry(message, delay_s=verdict.delay_s, reason=verdict.reason)
        except AircraftMLError as exc:
            # Lambda retries it after the visibility timeout; the idempotency key is the guard
            logger.error("message %s: could not settle %s: %s", message.id, verdict, exc)
        return False


def message_from_record(record: Mapping[str, Any]) -> Message:
    """Our ``Message`` for one SQS event record (its first id kept across redrives)."""
    attributes = record.get("messageAttributes") or {}
    first_id = (attributes.get(ATTR_ID) or {}).get("stringValue")
    tries_before = (attributes.get(ATTR_TRIES_BEFORE) or {}).get("stringValue") or "0"
    receive_count = (record.get("attributes") or {}).get("ApproximateReceiveCount", "1")
    return Message(
        id=str(first_id or record["messageId"]),
        body=str(record.get("body", "")),
        receive_count=int(receive_count) + int(tries_before),
        receipt=str(record["receiptHandle"]),
    )


# -- the entry points named in template.yaml --------------------------------------------------


@functools.cache
def _webhook_function() -> WebhookFunction:
    return WebhookFunction.from_environ(os.environ)


@functools.cache
def _sqs_function() -> SqsFunction:
    return SqsFunction.from_environ(os.environ)


_webhook_metrics = EmfFlusher("webhook")
_handler_metrics = EmfFlusher("handler")


def webhook_handler(event: Event, context: object) -> dict[str, Any]:
    """``aircraftml.aws.lambdas.webhook_handler``: the WebhookFunction of template.yaml."""
    try:
        return _webhook_function()(event, context)
    finally:
        _webhook_metrics.flush()


def sqs_handler(event: Event, context: object) -> dict[str, Any]:
    """``aircraftml.aws.lambdas.sqs_handler``: the HandlerFunction of template.yaml."""
    try:
        return _sqs_function()(event, context)
    finally:
        _handler_metrics.flush()


__all__ = [
    "SqsFunction",
    "WebhookFunction",
    "load_settings",
    "message_from_record",
    "sqs_handler",
    "webhook_handler",
]
