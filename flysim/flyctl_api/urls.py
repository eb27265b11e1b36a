"""flyctl-internal routes: ``(path, handler, methods, mutation)``."""

from __future__ import annotations

from starlette.routing import Route

from flysim.flyctl_api import responses as r
from flysim.guard import fly_route

ROUTES = [
    ("/_flyctl/apps", r.apps_list, ["GET"], False),
    ("/_flyctl/apps/{app}/status", r.status, ["GET"], False),
    ("/_flyctl/apps/{app}/releases", r.releases, ["GET"], False),
    ("/_flyctl/settings", r.settings, ["GET"], False),
    ("/_flyctl/apps/{app}/config", r.config_show, ["GET"], False),
    ("/_flyctl/apps/{app}/releases", r.release_create, ["POST"], True),
    ("/_flyctl/apps/{app}/releases/{version}", r.release_update, ["PATCH"], True),
    ("/_flyctl/apps/{app}/scale", r.scale_show, ["GET"], False),
    ("/_flyctl/apps/{app}/scale/count", r.scale_count, ["POST"], True),
]

routes = [
    Route(path, fly_route(handler, mutation=mutation), methods=methods)
    for path, handler, methods, mutation in ROUTES
]
