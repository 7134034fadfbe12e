"""The X credentials read from SSM Parameter Store (moto over HTTP, real boto3)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("boto3", reason="needs boto3 (the aws extra)")
pytest.importorskip("moto.server", reason="needs moto[server] (the dev extra)")

from aircraftml.aws.secrets import settings_environ_from_ssm


def test_secure_strings_under_the_path_become_settings(
    make_aws_client: Callable[[str], Any],
) -> None:
    # Given the four X credentials as SecureStrings, and one parameter elsewhere
    ssm = make_aws_client("ssm")
    path = f"/aircraftml-{uuid.uuid4().hex[:8]}/x"
    names = ["x_consumer_key", "x_consumer_secret", "x_access_token", "x_access_token_secret"]
    for name in names:
        ssm.put_parameter(Name=f"{path}/{name}", Value=f"v-{name}", Type="SecureString")
    ssm.put_parameter(Name=f"{path}-other/x_consumer_key", Value="no", Type="SecureString")
    # When they are read by path
    environ = settings_environ_from_ssm(path, client=ssm)
    # Then each is decrypted under its AIRCRAFTML_ name, and nothing else came along
    assert environ == {f"AIRCRAFTML_{name.upper()}": f"v-{name}" for name in names}
