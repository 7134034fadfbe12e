"""DynamoDbStateStore against a real DynamoDB-compatible server (moto) over HTTP.

The shared contract suite (tests/test_state_contract.py) runs on DynamoDB too; these cover
what is DynamoDB's own: separate processes racing, the item layout with its TTL attribute,
URLs and errors.
"""

from __future__ import annotations

import math
import multiprocessing
import uuid
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("boto3", reason="the DynamoDB backend needs boto3 (the aws extra)")
pytest.importorskip("moto.server", reason="the DynamoDB tests need moto[server] (the dev extra)")

from aircraftml.errors import ConfigError
from aircraftml.state import open_state
from aircraftml.state.base import Claim, ClaimStatus
from aircraftml.state.dynamodb import TTL_ATTRIBUTE, DynamoDbStateStore

MakeClient = Callable[[str], Any]


def _table(make_aws_client: MakeClient, **options: Any) -> DynamoDbStateStore:
    store = DynamoDbStateStore(
        f"t-{uuid.uuid4().hex[:12]}", client=make_aws_client("dynamodb"), **options
    )
    store.create_table()
    return store


def _claim_in_a_process(endpoint: str, table: str, key: str, start: Any, out: Any) -> None:
    import boto3

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    store = DynamoDbStateStore(table, client=client)
    start.wait()
    out.put(store.claim(key, ttl_s=60).status.value)


def test_processes_racing_for_one_key_get_exactly_one_fresh(
    moto_endpoint: str, make_aws_client: MakeClient
) -> None:
    # Given three processes, each with its own client, released at the same moment
    store = _table(make_aws_client)
    context = multiprocessing.get_context("spawn")
    start, out = context.Event(), context.Queue()
    args = (moto_endpoint, store.table_name, "x:reply:1", start, out)
    workers = [context.Process(target=_claim_in_a_process, args=args) for _ in range(3)]
    for worker in workers:
        worker.start()
    # When they all claim the same key
    start.set()
    statuses = sorted(out.get(timeout=30) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    # Then exactly one owns it
    assert statuses == ["fresh", "in_progress", "in_progress"]


def test_items_carry_a_whole_second_ttl_for_dynamodb_to_expire(
    make_aws_client: MakeClient,
) -> None:
    # Given a claim at a known time, and a result kept for an hour
    now_s = 1_700_000_000.25
    store = _table(make_aws_client, clock=lambda: now_s)
    store.claim("claimed", ttl_s=30)
    store.claim("kept", ttl_s=30)
    store.complete("kept", "reply-1", keep_s=3600)
    store.claim("forever", ttl_s=30)
    store.complete("forever", "reply-2")
    # Then the items expire when their claim or keep ends; a result kept for good never does
    client = make_aws_client("dynamodb")

    def item(key: str) -> dict[str, Any]:
        found: dict[str, Any] = client.get_item(TableName=store.table_name, Key={"pk": {"S": key}})[
            "Item"
        ]
        return found

    assert item("claimed")[TTL_ATTRIBUTE] == {"N": str(math.ceil(now_s + 30))}
    assert item("kept")[TTL_ATTRIBUTE] == {"N": str(math.ceil(now_s + 3600))}
    assert item("kept")["result"] == {"S": "reply-1"}
    assert TTL_ATTRIBUTE not in item("forever")
    ttl = client.describe_time_to_live(TableName=store.table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", TTL_ATTRIBUTE)


def test_an_empty_result_is_kept(make_aws_client: MakeClient) -> None:
    store = _table(make_aws_client)
    store.claim("k", ttl_s=30)
    store.complete("k", "")
    assert store.claim("k", ttl_s=30) == Claim(ClaimStatus.DONE, "")


def test_open_state_reads_the_dynamodb_url(moto_endpoint: str, make_aws_client: MakeClient) -> None:
    # Given a table on the server
    table = _table(make_aws_client).table_name
    # When it is opened from a URL
    store = open_state(
        f"dynamodb://{table}?region=us-east-1&endpoint_url={moto_endpoint}",
        client=make_aws_client("dynamodb"),
    )
    # Then it is that table
    assert isinstance(store, DynamoDbStateStore)
    assert store.table_name == table
    assert store.claim("k", ttl_s=30) == Claim(ClaimStatus.FRESH)


def test_bad_dynamodb_urls_are_refused() -> None:
    for bad in ("dynamodb://", "dynamodb://table/extra"):
        with pytest.raises(ConfigError, match="expected dynamodb://"):
            open_state(bad)


def test_a_missing_table_is_a_config_error(make_aws_client: MakeClient) -> None:
    store = DynamoDbStateStore("no-such-table", client=make_aws_client("dynamodb"))
    with pytest.raises(ConfigError, match="ResourceNotFoundException"):
        store.claim("k", ttl_s=30)
