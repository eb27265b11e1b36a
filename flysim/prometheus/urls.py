"""Prometheus routes (token required; GET and form-encoded POST)."""

from __future__ import annotations

from starlette.routing import Route

from flysim.guard import fly_route
from flysim.prometheus import responses as r

ROUTES = [
    ("/prometheus/{org}/api/v1/query", r.query),
    ("/prometheus/{org}/api/v1/query_range", r.query_range),
]

routes = [Route(path, fly_route(handler), methods=["GET", "POST"]) for path, handler in ROUTES]
