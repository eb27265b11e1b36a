"""App and external-service routes (no token)."""

from __future__ import annotations

from starlette.routing import Route

from flysim.app_endpoints import responses as r

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

routes = [
    Route("/_apps/{app}", r.app_endpoint, methods=METHODS),
    Route("/_apps/{app}/{path:path}", r.app_endpoint, methods=METHODS),
    Route("/_ext/{name}", r.external_endpoint, methods=METHODS),
    Route("/_ext/{name}/{path:path}", r.external_endpoint, methods=METHODS),
]
