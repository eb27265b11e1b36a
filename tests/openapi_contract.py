"""Fly's Machines API spec (docs/fly-machines-openapi3.json, its source in its `x-source` key) as
a validator of real HTTP exchanges, for the client's requests and for flysim's responses."""

from __future__ import annotations

from pathlib import Path

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "fly-machines-openapi3.json"


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
        data=request.content or None,
        content_type=content_type,
    )


def assert_valid_request(spec: OpenAPI, request: httpx.Request) -> None:
    spec.validate_request(as_spec_request(request))


def assert_valid_response(spec: OpenAPI, response: httpx.Response) -> None:
    """Validate a real exchange's response against the spec."""
    mock_response = MockResponse(
        response.content,
        status_code=response.status_code,
        content_type=response.headers["content-type"].split(";")[0],
    )
    spec.validate_response(as_spec_request(response.request), mock_response)
