"""The Lambda adapters with real event shapes: API Gateway proxy events (REST API payload 1.0,
HTTP API payload 2.0) and SQS event source mapping batches, against the moto server (SQS,
DynamoDB and SSM over HTTP, the real boto3 client) and the fake X on loopback (the real X
client). The poller that AWS runs between SQS and the function is played by
``event_source_mapping`` below: receive a batch, invoke, delete what did not fail."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("boto3", reason="the AWS adapters need boto3 (the aws extra)")
pytest.importorskip("moto.server", reason="needs moto[server] (the dev extra)")

from aircraftml.assembly import build_endpoint, build_platform
from aircraftml.aws.lambdas import SqsFunction, WebhookFunction
from aircraftml.config import Settings, env_name
from aircraftml.domain import Request
from aircraftml.handler import Handler
from aircraftml.platforms.fake_x import FakeX, FakeXServer
from aircraftml.platforms.x_text import weighted_length
from aircraftml.platforms.x_webhook import crc_response, sign_body
from aircraftml.queue.sqs import SqsQueue
from aircraftml.state.dynamodb import DynamoDbStateStore
from aircraftml.vision.recognizer import Recognizer
from aircraftml.worker import Worker
from e2e_support import fast_fake_x, jpeg, replies_to

ACCOUNT = "123456789012"
REGION = "us-east-1"
MAX_RECEIVES = 3
CRC_TOKEN = "Y3JjLXRva2VuLWZyb20teA"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


# -- event shapes, as API Gateway and the SQS event source mapping send them ------------------


def http_api_event(
    method: str,
    *,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) proxy event: header names in lower case."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} /webhook",
        "rawPath": "/webhook",
        "rawQueryString": urllib.parse.urlencode(query or {}),
        "headers": {
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": "Twitter-Webhooks",
            **{k.lower(): v for k, v in (headers or {}).items()},
        },
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": method,
                "path": "/webhook",
                "protocol": "HTTP/1.1",
                "sourceIp": "199.16.156.1",
                "userAgent": "Twitter-Webhooks",
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": f"{method} /webhook",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    return event


def rest_api_event(
    method: str,
    *,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> dict[str, Any]:
    """A REST API (payload format 1.0) proxy event: headers in the client's case."""
    all_headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", **(headers or {})}
    return {
        "resource": "/webhook",
        "path": "/webhook",
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abc123",
            "httpMethod": method,
            "path": "/prod/webhook",
            "resourcePath": "/webhook",
            "stage": "prod",
            "requestId": uuid.uuid4().hex,
            "identity": {"sourceIp": "199.16.156.1", "userAgent": "Twitter-Webhooks"},
        },
        "body": None if body is None else body.decode(),
        "isBase64Encoded": False,
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The Lambda event for messages received with ``AttributeNames=["All"]``."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": a.get("StringValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": a["DataType"],
                    }
                    for name, a in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


# -- the parts: a queue pair, a table, the fake X ---------------------------------------------


@dataclass
class Aws:
    endpoint: str
    sqs: Any
    queue: SqsQueue
    state: DynamoDbStateStore

    @property
    def queue_url_setting(self) -> str:
        name = self.queue.queue_url.rsplit("/", 1)[-1]
        return f"sqs://{REGION}/{ACCOUNT}/{name}?dlq={name}-dlq&endpoint_url={self.endpoint}"

    @property
    def state_url_setting(self) -> str:
        return f"dynamodb://{self.state.table_name}?endpoint_url={self.endpoint}"

    @property
    def queue_arn(self) -> str:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue.queue_url, AttributeNames=["QueueArn"]
        )
        return str(attributes["Attributes"]["QueueArn"])

    def receive(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """Exactly ``count`` messages (hidden for 60 s), as the event source mapping polls."""
        taken: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while len(taken) < count and time.monotonic() < deadline:
            response = self.sqs.receive_message(
                QueueUrl=self.queue.queue_url,
                MaxNumberOfMessages=min(10, count - len(taken)),
                WaitTimeSeconds=1,
                VisibilityTimeout=60,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            taken.extend(response.get("Messages", []))
        assert len(taken) == count, f"expected {count} messages, got {len(taken)}"
        return taken

    def invoke(
        self, function: Callable[..., dict[str, Any]], messages: list[dict[str, Any]]
    ) -> Any:
        """Invoke as the event source mapping does: then delete the records that succeeded."""
        event = sqs_event(messages, self.queue_arn)
        result = function(event, None)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(
                    QueueUrl=self.queue.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return result


@pytest.fixture
def aws(moto_endpoint: str, make_aws_client: Callable[[str], Any]) -> Iterator[Aws]:
    queue = SqsQueue.create(
        f"requests-{uuid.uuid4().hex[:10]}",
        max_receives=MAX_RECEIVES,
        visibility_timeout_s=60,
        client=make_aws_client("sqs"),
        owns_client=True,
        drain_wait_s=0,
    )
    state = DynamoDbStateStore(f"state-{uuid.uuid4().hex[:10]}", client=make_aws_client("dynamodb"))
    state.create_table()
    yield Aws(moto_endpoint, make_aws_client("sqs"), queue, state)
    queue.close()


@pytest.fixture
def fake() -> Iterator[tuple[FakeX, str]]:
    fake = fast_fake_x()
    with FakeXServer(fake) as server:
        yield fake, server.base_url


# The settings a Lambda reads from SSM, not from its environment: those Settings marks secret
# (here X's: the fake X's bot has no Mastodon or Bluesky account; the admin token is
# secret too, but no Lambda serves /admin).
X_SECRET_NAMES = tuple(
    env_name(f.name)
    for f in dataclasses.fields(Settings)
    if f.metadata["secret"] and f.metadata.get("network") == "x"
)


def settings_environ(fake: FakeX, base_url: str, aws: Aws) -> dict[str, str]:
    """The Lambdas' plain environment: the fake X's settings without the secrets, and AWS."""
    plain = {k: v for k, v in fake.bot_environ(base_url).items() if k not in X_SECRET_NAMES}
    return {
        **plain,
        "AIRCRAFTML_QUEUE_URL": aws.queue_url_setting,
        "AIRCRAFTML_STATE_URL": aws.state_url_setting,
        "AIRCRAFTML_MAX_RECEIVES": str(MAX_RECEIVES),
        "AIRCRAFTML_VISIBILITY_TIMEOUT_S": "30",
    }


def x_secrets(fake: FakeX, base_url: str) -> dict[str, str]:
    environ = fake.bot_environ(base_url)
    return {name: environ[name] for name in X_SECRET_NAMES}


@pytest.fixture
def settings(fake: tuple[FakeX, str], aws: Aws) -> Settings:
    fake_x, base_url = fake
    return Settings.load({**settings_environ(fake_x, base_url, aws), **x_secrets(fake_x, base_url)})


@pytest.fixture
def webhook(settings: Settings, aws: Aws) -> WebhookFunction:
    return WebhookFunction(build_endpoint(settings, aws.queue.send))


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load()


@pytest.fixture
def sqs_function(settings: Settings, aws: Aws, recognizer: Recognizer) -> SqsFunction:
    handler = Handler(
        build_platform(settings), aws.state, recognizer, weighted_length=weighted_length
    )
    return SqsFunction(aws.queue, Worker(aws.queue, handler))


def signed(fake: FakeX, payload: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return raw, {
        "Content-Type": "application/json",
        "X-Twitter-Webhooks-Signature": sign_body(raw, fake.config.consumer_secret),
    }


def queued_requests(aws: Aws) -> list[Request]:
    messages = aws.queue.receive(max_messages=10, wait_s=1)
    return [Request.from_json(m.body) for m in messages]


# -- the webhook function -----------------------------------------------------------------------


@pytest.mark.parametrize("make_event", [http_api_event, rest_api_event])
def test_the_crc_challenge_is_answered_with_the_hmac_of_the_token(
    webhook: WebhookFunction, fake: tuple[FakeX, str], make_event: Callable[..., Any]
) -> None:
    fake_x, _ = fake
    # When X sends its challenge-response check through API Gateway
    response = webhook(make_event("GET", query={"crc_token": "challenge-token-123456"}), None)
    # Then the answer is the token's HMAC under the consumer secret, as JSON
    assert response["statusCode"] == 200
    assert response["headers"] == {"content-type": "application/json"}
    expected = crc_response("challenge-token-123456", fake_x.config.consumer_secret)
    assert json.loads(response["body"]) == expected
    # and a check without a token is refused
    assert webhook(make_event("GET"), None)["statusCode"] == 400


@pytest.mark.parametrize("make_event", [http_api_event, rest_api_event])
def test_a_signed_mention_is_queued_for_the_handler(
    webhook: WebhookFunction, fake: tuple[FakeX, str], aws: Aws, make_event: Callable[..., Any]
) -> None:
    fake_x, _ = fake
    # Given a post that mentions the bot with a photo, as X delivers it, signed
    post_id = fake_x.create_post("alice", "@aircraftml what is this?", [jpeg()])
    raw, headers = signed(fake_x, fake_x.event_for(post_id))
    # When it reaches the function
    response = webhook(make_event("POST", headers=headers, body=raw), None)
    # Then it is answered 200 and one request for the post waits on SQS
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"queued": 1})
    [request] = queued_requests(aws)
    assert (request.post_id, request.author_handle) == (post_id, "alice")
    assert len(request.photo_urls) == 1


def test_a_base64_encoded_body_is_decoded_before_the_signature_is_checked(
    webhook: WebhookFunction, fake: tuple[FakeX, str], aws: Aws
) -> None:
    fake_x, _ = fake
    post_id = fake_x.create_post("bob", "@aircraftml ✈️ ça?", [jpeg()])
    raw, headers = signed(fake_x, fake_x.event_for(post_id))
    event = http_api_event("POST", headers=headers, body=raw, base64_body=True)
    assert webhook(event, None)["statusCode"] == 200
    assert [r.post_id for r in queued_requests(aws)] == [post_id]


@pytest.mark.parametrize("make_event", [http_api_event, rest_api_event])
def test_unsigned_and_forged_deliveries_are_refused_and_nothing_is_queued(
    webhook: WebhookFunction, fake: tuple[FakeX, str], aws: Aws, make_event: Callable[..., Any]
) -> None:
    fake_x, _ = fake
    post_id = fake_x.create_post("mallory", "@aircraftml hi", [jpeg()])
    raw, headers = signed(fake_x, fake_x.event_for(post_id))
    forged = {**headers, "X-Twitter-Webhooks-Signature": sign_body(raw, "not-the-secret")}
    unsigned = {"Content-Type": "application/json"}
    for bad_headers in (unsigned, forged):
        response = webhook(make_event("POST", headers=bad_headers, body=raw), None)
        assert response["statusCode"] == 401
    assert aws.queue.stats().ready == 0


def test_oversized_bodies_and_other_methods_are_refused(
    webhook: WebhookFunction, fake: tuple[FakeX, str], aws: Aws
) -> None:
    huge = b"{" + b" " * 1_100_000 + b"}"
    headers = {"content-type": "application/json"}
    assert webhook(http_api_event("POST", headers=headers, body=huge), None)["statusCode"] == 413
    bad_base64 = {**http_api_event("POST", headers=headers), "body": "%%%", "isBase64Encoded": True}
    assert webhook(bad_base64, None)["statusCode"] == 400
    assert webhook(http_api_event("PUT"), None)["statusCode"] == 405
    assert aws.queue.stats().ready == 0


# -- the SQS-fed handler function ----------------------------------------------------------------


def four_kinds_of_message(fake: FakeX, aws: Aws, webhook: WebhookFunction) -> dict[str, str]:
    """A good mention, a malformed body, a post X does not have, and one that meets a 503."""
    good = fake.create_post("alice", "@aircraftml what is this?", [jpeg()])
    flaky = fake.create_post("carol", "@aircraftml and this?", [jpeg((200, 90, 90))])
    for post_id, envelope in ((good, "account_activity"), (flaky, "x_activity")):
        raw, headers = signed(fake, fake.event_for(post_id, envelope))  # type: ignore[arg-type]
        assert webhook(http_api_event("POST", headers=headers, body=raw), None)["statusCode"] == 200
    missing = Request("x", "1", "42", "mallory", "@aircraftml ?")
    aws.queue.send(["{this is not json", missing.to_json()])
    # the x_activity envelope carries no media: the handler looks the post up, and X says 503
    fake.inject_fault(f"/2/tweets/{flaky}", "503", count=1, method="GET")
    return {"good": good, "flaky": flaky}


def message_ids_by_kind(messages: list[dict[str, Any]], posts: dict[str, str]) -> dict[str, str]:
    kinds = {}
    for message in messages:
        body = message["Body"]
        kind = next((k for k, p in posts.items() if f'"post_id":"{p}"' in body), None)
        kinds[kind or ("malformed" if body.startswith("{this") else "missing")] = message[
            "MessageId"
        ]
    return kinds


def test_a_batch_reports_only_the_transient_failure_and_dead_letters_the_rest(
    fake: tuple[FakeX, str], aws: Aws, webhook: WebhookFunction, sqs_function: SqsFunction
) -> None:
    fake_x, _ = fake
    # Given a batch of four: good, malformed, a post X does not have, one that meets a 503
    posts = four_kinds_of_message(fake_x, aws, webhook)
    messages = aws.receive(4)
    ids = message_ids_by_kind(messages, posts)
    # When the function handles the batch
    result = aws.invoke(sqs_function, messages)
    # Then only the transient failure comes back to be retried
    assert result == {"batchItemFailures": [{"itemIdentifier": ids["flaky"]}]}
    # the permanent and malformed ones are dead letters with their reasons
    reasons = sorted(d.reason for d in aws.queue.dead_letters())
    assert len(reasons) == 2
    assert reasons[0].startswith("PermanentError: fetch post 1")
    assert reasons[1].startswith("malformed request")
    # the good one got exactly one reply, and the flaky one none yet
    assert len(replies_to(fake_x, posts["good"])) == 1
    assert replies_to(fake_x, posts["flaky"]) == []
    # and the flaky one is hidden for its backoff (2 s), then comes back and is answered
    assert aws.sqs.receive_message(QueueUrl=aws.queue.queue_url).get("Messages") is None
    [again] = aws.receive(1, timeout_s=6)
    assert again["MessageId"] == ids["flaky"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert aws.invoke(sqs_function, [again]) == {"batchItemFailures": []}
    assert len(replies_to(fake_x, posts["flaky"])) == 1


def test_the_same_batch_delivered_twice_is_answered_once(
    fake: tuple[FakeX, str], aws: Aws, webhook: WebhookFunction, sqs_function: SqsFunction
) -> None:
    fake_x, _ = fake
    posts = four_kinds_of_message(fake_x, aws, webhook)
    messages = aws.receive(4)
    # When SQS delivers the whole batch twice (at-least-once), before anything is deleted
    first = sqs_function(sqs_event(messages, aws.queue_arn), None)
    second = sqs_function(sqs_event(messages, aws.queue_arn), None)
    # Then each mention got one reply: the second time DynamoDB said it was done
    assert len(first["batchItemFailures"]) == 1
    assert second == {"batchItemFailures": []}  # the 503 was injected once
    assert len(replies_to(fake_x, posts["good"])) == 1
    assert len(replies_to(fake_x, posts["flaky"])) == 1
    assert len(fake_x.replies) == 2
    # and the two poisoned messages are listed once each
    assert len(aws.queue.dead_letters()) == 2


def test_a_rate_limited_record_waits_for_the_window_without_spending_a_try(
    fake: tuple[FakeX, str], aws: Aws, webhook: WebhookFunction, sqs_function: SqsFunction
) -> None:
    fake_x, _ = fake
    post_id = fake_x.create_post("dora", "@aircraftml and this one?", [jpeg((10, 90, 200))])
    raw, headers = signed(fake_x, fake_x.event_for(post_id))
    assert webhook(http_api_event("POST", headers=headers, body=raw), None)["statusCode"] == 200
    [message] = aws.receive(1)
    # When X answers the reply with 429, its window reopening in about 2 s
    fake_x.inject_fault("/2/tweets", "429", reset_after_s=2, method="POST")
    # Then the record is not reported as failed (no try spent): a delayed copy waits instead
    assert aws.invoke(sqs_function, [message]) == {"batchItemFailures": []}
    assert replies_to(fake_x, post_id) == []
    [again] = aws.receive(1, timeout_s=10)
    assert again["Attributes"]["ApproximateReceiveCount"] == "1"
    # and once the window has reopened the copy is answered
    assert aws.invoke(sqs_function, [again]) == {"batchItemFailures": []}
    assert len(replies_to(fake_x, post_id)) == 1
    assert aws.queue.dead_letters() == []


# -- the entry points named in template.yaml, in a process of their own ------------------------

DRIVER = """
import contextlib, io, json, sys
from aircraftml.aws import lambdas
for line in sys.stdin:
    name, event = json.loads(line)
    with contextlib.redirect_stdout(io.StringIO()) as logged:  # what Lambda sends to CloudWatch
        result = getattr(lambdas, name)(event, None)
    built = {
        "webhook": lambdas._webhook_function.cache_info().misses,
        "sqs": lambdas._sqs_function.cache_info().misses,
    }
    emf = [json.loads(line) for line in logged.getvalue().splitlines() if '"_aws"' in line]
    print(json.dumps({"result": result, "built": built, "emf": emf}), flush=True)
"""


class LambdaProcess:
    """A Python process that imports the module as Lambda does and invokes its handlers."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", DRIVER],
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def invoke(self, name: str, event: Mapping[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps([name, event]) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        assert line, "the Lambda process died"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)


def test_the_template_entry_points_read_ssm_and_build_their_parts_once(
    fake: tuple[FakeX, str], aws: Aws, make_aws_client: Callable[[str], Any]
) -> None:
    fake_x, base_url = fake
    # Given the X credentials in SSM under a path, and only that path in the environment
    ssm = make_aws_client("ssm")
    path = f"/aircraftml-{uuid.uuid4().hex[:8]}/x"
    for name, value in x_secrets(fake_x, base_url).items():
        setting = name.removeprefix("AIRCRAFTML_").lower()
        ssm.put_parameter(Name=f"{path}/{setting}", Value=value, Type="SecureString")
    env = {
        "PATH": "/usr/bin:/bin",
        **AWS_ENV,
        "AWS_ENDPOINT_URL_SSM": aws.endpoint,
        **settings_environ(fake_x, base_url, aws),
        "AIRCRAFTML_AWS_SECRETS_SSM_PATH": path,
    }
    function = LambdaProcess(env)
    try:
        # When X checks the webhook, then delivers a mention, and SQS feeds it to the handler
        crc = function.invoke(
            "webhook_handler", http_api_event("GET", query={"crc_token": CRC_TOKEN})
        )
        post_id = fake_x.create_post("dora", "@aircraftml plane?", [jpeg()])
        raw, headers = signed(fake_x, fake_x.event_for(post_id))
        delivered = function.invoke(
            "webhook_handler", rest_api_event("POST", headers=headers, body=raw)
        )
        messages = aws.receive(1)
        handled = function.invoke("sqs_handler", sqs_event(messages, aws.queue_arn))
        again = function.invoke("sqs_handler", sqs_event(messages, aws.queue_arn))
    finally:
        function.close()
    # Then the CRC answer used the secret from SSM, the mention was answered once,
    assert json.loads(crc["result"]["body"]) == crc_response(
        CRC_TOKEN, fake_x.config.consumer_secret
    )
    assert delivered["result"]["statusCode"] == 200
    assert handled["result"] == again["result"] == {"batchItemFailures": []}
    assert len(replies_to(fake_x, post_id)) == 1
    # and each function was built once for its four or two invocations
    assert again["built"] == {"webhook": 1, "sqs": 1}
    # and each invocation told CloudWatch what it did, as embedded metrics
    [delivery] = delivered["emf"]
    assert (delivery["Function"], delivery["webhook_deliveries_total.200"]) == ("webhook", 1)
    assert delivery["events_queued_total"] == 1
    [answered] = handled["emf"]
    assert (answered["Function"], answered["mentions_total.replied"]) == ("handler", 1)
    x_calls = {k: v for k, v in answered.items() if k.startswith("platform_api_calls_total.x.")}
    assert x_calls["platform_api_calls_total.x.200"] >= 1  # the photo (and any lookups)
    assert x_calls["platform_api_calls_total.x.201"] >= 1  # the reply posted
    [again_emf] = again["emf"]
    assert again_emf["mentions_total.already replied"] == 1
    assert "mentions_total.replied" not in again_emf  # only what this invocation added
