"""Logs API route (token required; a read for faults)."""

from __future__ import annotations

from starlette.routing import Route

from flysim.guard import fly_route
from flysim.logs import responses as r

routes = [Route("/api/v1/apps/{app}/logs", fly_route(r.get_app_logs), methods=["GET"])]
