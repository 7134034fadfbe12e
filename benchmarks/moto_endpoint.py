"""The SQS/DynamoDB endpoint the AWS benchmarks talk to: the one given, or moto's server
started here on a free loopback port for the length of the run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def endpoint(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
