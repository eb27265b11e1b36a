"""Fly's Machines API spec (docs/fly-machines-openapi3.json, its source in its `x-source` key) as
a validator of real HTTP exchanges, for the client's requests and for flysim's responses; and
the logs API's shape (docs/fly-logs-api.schema.json: Fly publishes no spec for it, the file
names what it was written from)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "fly-machines-openapi3.json"
LOGS_SCHEMA = ROOT / "docs" / "fly-logs-api.schema.json"


def load_spec() -> OpenAPI:
    """The spec repeats an operationId (`Machines_update_metadata`), so openapi-core's strict spec
    validation would refuse it: it is off; requests and responses are still validated."""
    if not SPEC.exists():
        raise FileNotFoundError(f"Fly's Machines API spec is expected at {SPEC}")
    return OpenAPI.from_file_path(str(SPEC), config=Config(spec_validator_cls=None))


def as_spec_request(request: httpx.Request) -> MockRequest:
    """A real request, as if it were sent to https://api.machines.dev/v1 (the spec's server)."""
    path = request.url.path
    assert path.startswith("/v1/"), path
    content_type = request.headers.get("content-type", "application/json").split(";")[0]
    return MockRequest(
        "https://api.machines.dev",
        request.method.lower(),
        path,
        args=dict(request.url.params),
        headers=dict(request.headers),  # e.g. fly-machine-lease-nonce, a declared parameter
        data=request.content or None,
        content_type=content_type,
    )


def assert_valid_request(spec: OpenAPI, request: httpx.Request) -> None:
    spec.validate_request(as_spec_request(request))


def _documented_without_content(response: httpx.Response) -> bool:
    """The spec lists this status for the operation but gives it no content schema (Fly's docs
    show bodies there, e.g. `{"status": "success", "data": {"ok": true}}` for a released
    lease): the status is checked, the body is not."""
    path = response.request.url.path.removeprefix("/v1")
    method = response.request.method.lower()
    wanted = path.strip("/").split("/")
    for template, operations in _spec_dict()["paths"].items():
        parts = template.strip("/").split("/")
        if len(parts) != len(wanted):
            continue
        if all(p.startswith("{") or p == w for p, w in zip(parts, wanted, strict=True)):
            answer = operations.get(method, {}).get("responses", {}).get(str(response.status_code))
            if answer is not None and not answer.get("content"):
                return True
    return False


def assert_valid_response(spec: OpenAPI, response: httpx.Response) -> None:
    """Validate a real exchange's response against the spec."""
    if _documented_without_content(response):
        return
    mock_response = MockResponse(
        response.content,
        status_code=response.status_code,
        content_type=response.headers["content-type"].split(";")[0],
    )
    spec.validate_response(as_spec_request(response.request), mock_response)


@cache
def _spec_dict() -> dict[str, Any]:
    return json.loads(SPEC.read_text())


def assert_fly_error_body(response: httpx.Response) -> None:
    """An error answer carries Fly's body, the spec's `ErrorResponse` (`{"error", "status",
    "details"}`), whatever its status (the spec does not list every status it is sent with)."""
    assert response.status_code >= 400, response.status_code
    assert response.headers["content-type"].split(";")[0] == "application/json"
    spec = _spec_dict()
    schema = {**spec["components"]["schemas"]["ErrorResponse"], "components": spec["components"]}
    OAS30Validator(schema).validate(response.json())
    assert isinstance(response.json().get("error"), str) and response.json()["error"]


def assert_valid_logs_answer(body: Any) -> None:
    """The logs API's JSON:API page, as fly-go decodes it."""
    Draft202012Validator(json.loads(LOGS_SCHEMA.read_text())).validate(body)
