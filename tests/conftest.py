"""Fixtures shared by several test modules.

``moto_endpoint``: one moto server (SQS, DynamoDB...) on a free loopback port for the whole
session, spoken to over HTTP by the real boto3 client. Tests that use it are skipped when
moto or boto3 is not installed (``pip install -e '.[dev]'``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from browser_support import browser  # noqa: F401 (a fixture: Chromium through Playwright)
from fake_clock import FakeClock

MOTO_REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    pytest.importorskip("boto3", reason="the AWS backends need boto3 (the aws extra)")
    server_module = pytest.importorskip("moto.server", reason="needs moto[server] (dev extra)")
    werkzeug_logger = logging.getLogger("werkzeug")
    level = werkzeug_logger.level
    # moto answers 500 with a traceback for actions it lacks (StartMessageMoveTask)
    werkzeug_logger.setLevel(logging.CRITICAL)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    werkzeug_logger.setLevel(level)


@pytest.fixture(scope="session")
def make_aws_client(moto_endpoint: str) -> Callable[[str], Any]:
    """A new boto3 client for ``service`` on the moto server (its own connection pool)."""
    import boto3

    def _make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=moto_endpoint,
            region_name=MOTO_REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return _make


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test advances it."""
    return FakeClock()
