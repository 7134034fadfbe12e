"""Check an HTTP request against X's OpenAPI specification (the pinned extract in tests/data/x).

Independent of the client and of the fake: it reads only X's specification. Checks the
operation (method and path), the query (names, enum values, required), a JSON or multipart
body (properties, required, enums, ``additionalProperties: false``) and that the kind of
credential sent is one the operation's ``security`` allows.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import httpx

SPEC_PATH = Path(__file__).parent / "data" / "x" / "openapi-extract.json"

Credential = Callable[[httpx.Request], str]  # -> "BearerToken" | "OAuth2UserToken" | "UserToken"


@cache
def spec() -> dict[str, Any]:
    return dict(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


def problems(
    request: httpx.Request, credential: Credential, renamed: Mapping[str, str] | None = None
) -> list[str]:
    """What in ``request`` the specification does not allow ([] when all is well).

    ``renamed`` maps names the request uses to the specification's (a dialect's
    ``renamed_to(SPEC)``), applied to query names and values before they are checked.
    """
    where = f"{request.method} {request.url.path}"
    operation = _operation(request.method, request.url.path)
    if operation is None:
        return [f"{where}: no such operation in the specification"]
    found = _query_problems(request, operation, renamed or {})
    found += _body_problems(request, operation)
    found += _security_problems(request, operation, credential)
    return [f"{where}: {problem}" for problem in found]


def _operation(method: str, path: str) -> dict[str, Any] | None:
    for template, item in spec()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return dict(item[method.lower()])
    return None


def _resolve(node: Mapping[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        _, section, name = node["$ref"].removeprefix("#/").split("/", 2)[-3:]
        node = spec()["components"][section][name]
    return dict(node)


def _query_problems(
    request: httpx.Request, operation: Mapping[str, Any], renamed: Mapping[str, str]
) -> list[str]:
    params = [_resolve(p) for p in operation.get("parameters", [])]
    allowed = {p["name"]: p for p in params if p["in"] == "query"}
    sent = {renamed.get(k, k): v for k, v in request.url.params.multi_items()}
    found = [
        f"query parameter {name!r} is not in the specification"
        for name in sent
        if name not in allowed
    ]
    found += [
        f"required query parameter {n!r} missing"
        for n, p in allowed.items()
        if p.get("required") and n not in sent
    ]
    for name, value in sent.items():
        if name in allowed:
            values = [renamed.get(v, v) for v in value.split(",")]
            found += _value_problems(f"query {name}", values, allowed[name]["schema"])
    return found


def _value_problems(where: str, values: list[str], schema: Mapping[str, Any]) -> list[str]:
    item = schema.get("items", schema)
    enum, pattern = item.get("enum"), item.get("pattern")
    found = [
        f"{where}: {v!r} is not one of the specification's values"
        for v in values
        if enum is not None and v not in enum
    ]
    found += [
        f"{where}: {v!r} does not match {pattern}"
        for v in values
        if pattern is not None and not re.match(pattern, v)
    ]
    return found


def _body_problems(request: httpx.Request, operation: Mapping[str, Any]) -> list[str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if not request.content:
        return ["a request body is required"] if operation.get("requestBody") else []
    body_spec = (operation.get("requestBody") or {}).get("content", {}).get(content_type)
    if body_spec is None:
        return [f"a {content_type or 'untyped'} body is not what the specification takes"]
    schema = _resolve(body_spec["schema"])
    if content_type == "application/json":
        return _object_problems("$", json.loads(request.content), schema)
    return _object_problems("form", _multipart_fields(request), schema)


def _object_problems(where: str, value: Any, schema: Mapping[str, Any]) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where} is not an object"]
    properties = schema.get("properties", {})
    found = []
    if schema.get("additionalProperties") is False:
        found += [
            f"{where}.{key} is not a property of the schema"
            for key in value
            if key not in properties
        ]
    found += [
        f"{where}.{key} is required" for key in schema.get("required", []) if key not in value
    ]
    for key, item in value.items():
        sub = _resolve(properties.get(key, {}))
        if isinstance(item, str):
            found += _value_problems(f"{where}.{key}", [item], sub)
        elif isinstance(item, dict) and sub.get("type") == "object" and "properties" in sub:
            found += _object_problems(f"{where}.{key}", item, sub)
    return found


def _multipart_fields(request: httpx.Request) -> dict[str, Any]:
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        is_file = part.get_param("filename", header="content-disposition") is not None
        fields[str(name)] = b"<file>" if is_file else part.get_content().strip()
    return fields


def _security_problems(
    request: httpx.Request, operation: Mapping[str, Any], credential: Credential
) -> list[str]:
    schemes = {name for option in operation.get("security", []) for name in option}
    kind = credential(request)
    if schemes and kind not in schemes:
        return [f"sent with {kind}; the specification takes {sorted(schemes)}"]
    return []
