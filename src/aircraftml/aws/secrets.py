"""The X credentials from SSM Parameter Store, for the Lambda functions.

template.yaml passes only a path (``AIRCRAFTML_AWS_SECRETS_SSM_PATH``, e.g. ``/aircraftml/x``);
under it live SecureString parameters named after settings::

    /aircraftml/x/x_consumer_key          -> AIRCRAFTML_X_CONSUMER_KEY
    /aircraftml/x/x_consumer_secret       -> AIRCRAFTML_X_CONSUMER_SECRET
    /aircraftml/x/x_access_token          -> AIRCRAFTML_X_ACCESS_TOKEN
    /aircraftml/x/x_access_token_secret   -> AIRCRAFTML_X_ACCESS_TOKEN_SECRET

``settings_environ_from_ssm`` returns them as environment-style names, to lay over
``os.environ`` before ``Settings.load`` (values are never logged).
"""

from __future__ import annotations

import logging
from typing import Any

from aircraftml.aws._boto import boto_errors, make_client
from aircraftml.config import env_name

logger = logging.getLogger(__name__)

SSM_PATH_VARIABLE = env_name("aws_secrets_ssm_path")


def settings_environ_from_ssm(
    path: str, *, client: Any = None, region: str | None = None, endpoint_url: str | None = None
) -> dict[str, str]:
    """``AIRCRAFTML_<NAME>: value`` for each parameter directly under ``path``, decrypted."""
    if client is None:
        client = make_client("ssm", region=region, endpoint_url=endpoint_url)
    environ: dict[str, str] = {}
    with boto_errors(f"reading the parameters under {path}"):
        pages = client.get_paginator("get_parameters_by_path").paginate(
            Path=path.rstrip("/") or "/", Recursive=False, WithDecryption=True
        )
        for page in pages:
            for parameter in page.get("Parameters", []):
                name = str(parameter["Name"]).rsplit("/", 1)[-1]
                environ[env_name(name)] = str(parameter["Value"])
    logger.info("read %d settings from SSM under %s", len(environ), path)
    return environ
