"""A StateStore on an Amazon DynamoDB table, through boto3.

One item per key, the partition key ``pk`` (a string)::

    pk                  the idempotency key
    status              "in_progress" | "done"
    result              what ``complete`` recorded (done items only)
    expires_at_epoch_s  when the item stops counting (absent: never); fractional seconds
    ttl_epoch_s         the same, whole seconds, for DynamoDB's TTL sweeper to delete it
    token               the owner of an in-progress claim

A record (``put_record``) is an item ``pk = "record:<kind>:<key>"`` with ``kind`` and
``value``; listing a kind scans the table (exports only). A pause is an item of its own,
``pk = "pause:<name>"`` with ``until_epoch_s``, raised only by a conditional update, so a
later pause never shortens an earlier one.

``claim`` is one conditional PutItem (``attribute_not_exists(pk) OR expires_at_epoch_s <=
:now``), so of two workers on two machines exactly one gets FRESH. ``:now`` is the
caller's clock: keep the workers' clocks in sync (NTP) to well under ``ttl_s``. The table's
TTL only tidies up; expiry is decided by the condition, never by the sweeper (which can lag
by days).

URL form for ``open_state``::

    dynamodb://<table-name>[?region=<region>&endpoint_url=<http://host:port>]
"""

from __future__ import annotations

import logging
import math
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from aircraftml.aws._boto import boto_errors, error_code, make_client
from aircraftml.errors import ConfigError, TransientError
from aircraftml.state.base import Claim, ClaimStatus

logger = logging.getLogger(__name__)

IN_PROGRESS = "in_progress"
DONE = "done"
TTL_ATTRIBUTE = "ttl_epoch_s"
_CLAIM_CONDITION = "attribute_not_exists(pk) OR expires_at_epoch_s <= :now"
_CLAIM_ATTEMPTS = 3
_RECORD_PREFIX = "record:"  # records share the table with the claims, apart by prefix
_CONDITION_FAILED = "ConditionalCheckFailedException"
_OWNED_CONDITION = "#status = :in_progress AND #token = :token"
_PAUSE_PREFIX = "pause:"


class DynamoDbStateStore:
    """A StateStore on DynamoDB. See ``aircraftml.state.base`` for the contract.

    ``client`` is a boto3 DynamoDB client (one is made from ``region``/``endpoint_url``
    when omitted); ``clock`` gives seconds since the epoch.
    """

    def __init__(
        self,
        table_name: str,
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self._owns_client = client is None
        if client is None:
            client = make_client("dynamodb", region=region, endpoint_url=endpoint_url)
        self._client = client
        self._clock = clock

    def claim(self, key: str, ttl_s: float) -> Claim:
        for _ in range(_CLAIM_ATTEMPTS):
            now_s = self._clock()
            token = uuid.uuid4().hex
            item = _item(key, IN_PROGRESS, None, now_s + ttl_s, token)
            existing = self._put_unless_live(item, now_s)
            if existing is None:
                return Claim(ClaimStatus.FRESH, token=token)
            if existing:
                return _claim_of(existing)
            # the live item was released or expired between our two reads: try again
        raise TransientError(f"claiming {key!r}: the item kept changing under us")

    def renew(self, key: str, token: str, ttl_s: float) -> bool:
        expires_at_s = self._clock() + ttl_s
        return self._if_owned(
            f"renewing {key!r}",
            "update_item",
            key,
            token,
            UpdateExpression="SET expires_at_epoch_s = :expires, ttl_epoch_s = :ttl",
            values={":expires": _number(expires_at_s), ":ttl": _whole(expires_at_s)},
        )

    def complete(
        self, key: str, result: str, keep_s: float | None = None, token: str | None = None
    ) -> bool:
        expires_at_s = None if keep_s is None else self._clock() + keep_s
        item = _item(key, DONE, result, expires_at_s)
        if token is not None:
            return self._if_owned(f"completing {key!r}", "put_item", key, token, Item=item)
        with boto_errors(f"completing {key!r}"):
            self._client.put_item(TableName=self.table_name, Item=item)
        return True

    def release(self, key: str, token: str | None = None) -> None:
        condition, names = "#status = :in_progress", {"#status": "status"}
        values: dict[str, Any] = {":in_progress": {"S": IN_PROGRESS}}
        if token is not None:
            condition, names = _OWNED_CONDITION, {**names, "#token": "token"}
            values[":token"] = {"S": token}
        try:
            self._client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if error_code(exc) != _CONDITION_FAILED:
                with boto_errors(f"releasing {key!r}"):
                    raise
            logger.info("release of %r ignored: it is done, gone or not ours", key)

    def pause(self, name: str, until_epoch_s: float) -> None:
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": _PAUSE_PREFIX + name}},
                UpdateExpression="SET until_epoch_s = :until",
                ConditionExpression="attribute_not_exists(until_epoch_s) OR until_epoch_s < :until",
                ExpressionAttributeValues={":until": _number(until_epoch_s)},
            )
        except Exception as exc:
            if error_code(exc) != _CONDITION_FAILED:
                with boto_errors(f"pausing {name!r}"):
                    raise
            # a later pause is already recorded: it stands

    def paused_until(self, name: str) -> float:
        item = self._get(_PAUSE_PREFIX + name)
        return float(item.get("until_epoch_s", {}).get("N", 0.0))

    def put_record(self, kind: str, key: str, value: str) -> None:
        item = {"pk": {"S": _record_pk(kind, key)}, "kind": {"S": kind}, "value": {"S": value}}
        with boto_errors(f"keeping record {kind}/{key}"):
            self._client.put_item(TableName=self.table_name, Item=item)

    def get_record(self, kind: str, key: str) -> str | None:
        value = self._get(_record_pk(kind, key)).get("value", {}).get("S")
        return None if value is None else str(value)

    def delete_record(self, kind: str, key: str) -> None:
        with boto_errors(f"deleting record {kind}/{key}"):
            self._client.delete_item(
                TableName=self.table_name, Key={"pk": {"S": _record_pk(kind, key)}}
            )

    def records(self, kind: str) -> list[tuple[str, str]]:
        prefix = _record_pk(kind, "")
        found: list[tuple[str, str]] = []
        with boto_errors(f"listing records {kind}"):
            pages = self._client.get_paginator("scan").paginate(
                TableName=self.table_name,
                FilterExpression="begins_with(pk, :prefix)",
                ExpressionAttributeValues={":prefix": {"S": prefix}},
                ConsistentRead=True,
            )
            for page in pages:
                found += [
                    (item["pk"]["S"][len(prefix) :], item["value"]["S"])
                    for item in page.get("Items", [])
                ]
        return sorted(found)

    def create_table(self) -> None:
        """Create the table (on demand capacity, TTL on) if missing: for local servers.

        On AWS the SAM template owns the table; this is for moto, LocalStack and tests.
        """
        with boto_errors(f"creating table {self.table_name}"):
            try:
                self._client.create_table(
                    TableName=self.table_name,
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                    BillingMode="PAY_PER_REQUEST",
                )
            except Exception as exc:
                if error_code(exc) != "ResourceInUseException":
                    raise
                return
            waiter = self._client.get_waiter("table_exists")
            waiter.wait(TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
            self._client.update_time_to_live(
                TableName=self.table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> DynamoDbStateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _put_unless_live(self, item: dict[str, Any], now_s: float) -> dict[str, Any] | None:
        """None when ``item`` was written; else the live item in the way ({} if gone since)."""
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression=_CLAIM_CONDITION,
                ExpressionAttributeValues={":now": _number(now_s)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if error_code(exc) != _CONDITION_FAILED:
                with boto_errors(f"claiming {item['pk']['S']!r}"):
                    raise
            old: dict[str, Any] | None = getattr(exc, "response", {}).get("Item")
            return old if old else self._get(item["pk"]["S"])
        return None

    def _if_owned(self, action: str, method: str, key: str, token: str, **kwargs: Any) -> bool:
        """``method`` on the item of ``key`` if it is our in-progress claim; True if it was."""
        values = kwargs.pop("values", {})
        if method == "update_item":
            kwargs["Key"] = {"pk": {"S": key}}
        try:
            getattr(self._client, method)(
                TableName=self.table_name,
                ConditionExpression=_OWNED_CONDITION,
                ExpressionAttributeNames={"#status": "status", "#token": "token"},
                ExpressionAttributeValues={
                    ":in_progress": {"S": IN_PROGRESS},
                    ":token": {"S": token},
                    **values,
                },
                **kwargs,
            )
        except Exception as exc:
            if error_code(exc) != _CONDITION_FAILED:
                with boto_errors(action):
                    raise
            return False
        return True

    def _get(self, key: str) -> dict[str, Any]:
        with boto_errors(f"reading {key!r}"):
            response = self._client.get_item(
                TableName=self.table_name, Key={"pk": {"S": key}}, ConsistentRead=True
            )
        item: dict[str, Any] = response.get("Item", {})
        return item


def open_dynamodb_state(url: str, **options: Any) -> DynamoDbStateStore:
    """A store from ``dynamodb://<table>[?region=<region>&endpoint_url=<http://host:port>]``.

    ``options`` go to the constructor (``client``, ``clock``).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "dynamodb" or not parts.netloc or parts.path not in ("", "/"):
        raise ConfigError(
            f"state URL {url!r}: expected dynamodb://<table-name>"
            "[?region=<region>&endpoint_url=<http://host:port>]"
        )
    query = dict(urllib.parse.parse_qsl(parts.query))
    return DynamoDbStateStore(
        parts.netloc,
        region=query.get("region"),
        endpoint_url=query.get("endpoint_url"),
        **options,
    )


def _record_pk(kind: str, key: str) -> str:
    return f"{_RECORD_PREFIX}{kind}:{key}"


def _number(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


def _whole(value: float) -> dict[str, str]:
    return {"N": str(math.ceil(value))}


def _item(
    key: str,
    status: str,
    result: str | None,
    expires_at_s: float | None,
    token: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": key}, "status": {"S": status}}
    if result is not None:
        item["result"] = {"S": result}
    if expires_at_s is not None:
        item["expires_at_epoch_s"] = _number(expires_at_s)
        item[TTL_ATTRIBUTE] = _whole(expires_at_s)
    if token is not None:
        item["token"] = {"S": token}
    return item


def _claim_of(item: dict[str, Any]) -> Claim:
    if item.get("status", {}).get("S") == DONE:
        return Claim(ClaimStatus.DONE, item.get("result", {}).get("S"))
    expires = item.get("expires_at_epoch_s", {}).get("N")
    expires_at_s = None if expires is None else float(expires)
    return Claim(ClaimStatus.IN_PROGRESS, expires_at_epoch_s=expires_at_s)
