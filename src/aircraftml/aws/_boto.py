"""The one edge where boto3 is imported and where botocore's errors become ours.

boto3 is an optional extra (``pip install 'aircraftml[aws]'``), imported only when an AWS
backend is built. Clients are untyped (``Any``); keep them inside the backends.

    ClientError with a throttling code or a 5xx status, a dropped or timed-out connection
        -> TransientError
    a queue or table that does not exist, missing credentials or region -> ConfigError
    any other botocore error                                           -> PermanentError
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aircraftml.errors import AircraftMLError, ConfigError, PermanentError, TransientError

DEFAULT_LOCAL_REGION = "us-east-1"

_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "KMS.ThrottlingException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_MISSING_RESOURCE_CODES = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "ResourceNotFoundException",
    }
)
_CONFIG_ERROR_NAMES = frozenset(
    {"NoCredentialsError", "PartialCredentialsError", "NoRegionError", "ProfileNotFound"}
)
_TRANSIENT_ERROR_NAMES = frozenset({"ConnectionError", "HTTPClientError"})


def import_boto3() -> Any:
    """boto3, or a ConfigError saying how to install it."""
    try:
        return importlib.import_module("boto3")
    except ImportError as exc:
        raise ConfigError(
            "boto3 is not installed: the AWS backends need `pip install 'aircraftml[aws]'`"
        ) from exc


def make_client(service: str, *, region: str | None, endpoint_url: str | None) -> Any:
    """A boto3 client with bounded retries and timeouts that allow 20 s long polls."""
    boto3 = import_boto3()
    config_module = importlib.import_module("botocore.config")
    config = config_module.Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=32,
    )
    if endpoint_url is not None and region is None:
        region = DEFAULT_LOCAL_REGION
    with boto_errors(f"creating the {service} client"):
        return boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=config)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, or '' for anything else."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def _http_status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return 0
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def map_boto_error(exc: Exception, action: str) -> AircraftMLError:
    """Our error for a botocore (or other) exception raised while doing ``action``."""
    names = _class_names(exc)
    code = error_code(exc)
    message = f"{action}: {code + ': ' if code else ''}{exc}"
    if "ClientError" in names:
        if code in _MISSING_RESOURCE_CODES:
            return ConfigError(message)
        if code in _TRANSIENT_CODES or _http_status(exc) >= 500:
            return TransientError(message)
        return PermanentError(message)
    if names & _CONFIG_ERROR_NAMES:
        return ConfigError(f"{message} (set the AWS credentials and region)")
    if names & _TRANSIENT_ERROR_NAMES:
        return TransientError(message)
    return PermanentError(message)


def is_botocore_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("botocore")


@contextmanager
def boto_errors(action: str) -> Iterator[None]:
    """Re-raise botocore exceptions from the block as AircraftMLError subclasses."""
    try:
        yield
    except Exception as exc:
        if not is_botocore_error(exc):
            raise
        raise map_boto_error(exc, action) from exc
