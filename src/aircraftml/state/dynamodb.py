"""A StateStore on an Amazon DynamoDB table, through boto3.

One item per key, the partition key ``pk`` (a string)::

    pk                  the idempotency key
    status              "in_progress" | "done"
    result              what ``complete`` recorded (done items only)
    expires_at_epoch_s  when the item stops counting (absent: never); fractional seconds
    ttl_epoch_s         the same, whole seconds, for DynamoDB's TTL sweeper to delete it

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
_CONDITION_FAILED = "ConditionalCheckFailedException"


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
            item = _item(key, IN_PROGRESS, None, now_s + ttl_s)
            existing = self._put_unless_live(item, now_s)
            if existing is None:
                return Claim(ClaimStatus.FRESH)
            if existing:
                return _claim_of(existing)
            # the live item was released or expired between our two reads: try again
        raise TransientError(f"claiming {key!r}: the item kept changing under us")

    def complete(self, key: str, result: str, keep_s: float | None = None) -> None:
        expires_at_s = None if keep_s is None else self._clock() + keep_s
        with boto_errors(f"completing {key!r}"):
            self._client.put_item(
                TableName=self.table_name, Item=_item(key, DONE, result, expires_at_s)
            )

    def release(self, key: str) -> None:
        try:
            self._client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                ConditionExpression="#status = :in_progress",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":in_progress": {"S": IN_PROGRESS}},
            )
        except Exception as exc:
            if error_code(exc) != _CONDITION_FAILED:
                with boto_errors(f"releasing {key!r}"):
                    raise
            logger.info("release of %r ignored: it is done or gone", key)

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


def _number(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


def _item(key: str, status: str, result: str | None, expires_at_s: float | None) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": key}, "status": {"S": status}}
    if result is not None:
        item["result"] = {"S": result}
    if expires_at_s is not None:
        item["expires_at_epoch_s"] = _number(expires_at_s)
        item[TTL_ATTRIBUTE] = {"N": str(math.ceil(expires_at_s))}
    return item


def _claim_of(item: dict[str, Any]) -> Claim:
    if item.get("status", {}).get("S") == DONE:
        return Claim(ClaimStatus.DONE, item.get("result", {}).get("S"))
    return Claim(ClaimStatus.IN_PROGRESS)
