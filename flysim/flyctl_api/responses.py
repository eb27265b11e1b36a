"""flyctl-internal handlers; bodies are what ``flysim-fly`` prints with ``--json``."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flysim.errors import BadRequest
from flysim.guard import json_body
from flysim.shapes import app_flyctl, release_flyctl, scale_show_flyctl, status_flyctl
from flysim.state import Backend

STRATEGIES = ("rolling", "immediate", "canary", "bluegreen")


def _int(body: dict, key: str, required: bool = False) -> int | None:  # type: ignore[type-arg]
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequest(f"{key} is required")
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{key} must be an integer, got {value!r}")
    return value


async def apps_list(request: Request, backend: Backend) -> Response:
    """``fly apps list --json``."""
    with backend.lock:
        return JSONResponse([app_flyctl(backend, a) for a in backend.apps.values()])


async def status(request: Request, backend: Backend) -> Response:
    """``fly status --json``."""
    with backend.lock:
        return JSONResponse(status_flyctl(backend, backend.app(request.path_params["app"])))


async def releases(request: Request, backend: Backend) -> Response:
    """``fly releases --json``: newest first, at most 25."""
    with backend.lock:
        app = backend.app(request.path_params["app"])
        current = app.current_release
        ordered = sorted(app.releases, key=lambda r: r.version, reverse=True)[:25]
        return JSONResponse([release_flyctl(r, current) for r in ordered])


async def settings(request: Request, backend: Backend) -> Response:
    """flyctl's own waits, as this scenario times them (``flysim-fly`` reads its defaults
    here: flyctl's ``--wait-timeout`` 5m and 10 s smoke checks in the demo, short in tests)."""
    timing = backend.timing
    return JSONResponse(
        {
            "wait_timeout_seconds": timing.wait_timeout_seconds,
            "smoke_check_seconds": timing.smoke_check_seconds,
        }
    )


async def config_show(request: Request, backend: Backend) -> Response:
    """``fly config show -a APP``: the current release's app config."""
    return JSONResponse(backend.current_config(request.path_params["app"]))


async def release_create(request: Request, backend: Backend) -> Response:
    """What ``fly deploy`` records before it touches machines: a ``running`` release with
    the image and app config (``{"release": Release, "error": str | null}``)."""
    body = await json_body(request)
    strategy = body.get("strategy") or "rolling"
    if strategy not in STRATEGIES:
        raise BadRequest(
            f"invalid deployment strategy {strategy!r}; options are {', '.join(STRATEGIES)}"
        )
    config = body.get("config")
    if not isinstance(config, dict):
        raise BadRequest("config must be the app config (fly config show)")
    user = body.get("user") or os.environ.get("FLYSIM_USER")
    labels = body.get("labels")
    if labels is not None and not (
        isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())
    ):
        raise BadRequest("labels must map names to strings")
    release, error = backend.create_release(
        request.path_params["app"],
        image=str(body.get("image") or ""),
        config=config,
        strategy=strategy,
        user=user,
        labels=labels,
    )
    with backend.lock:
        app = backend.app(request.path_params["app"])
        payload = {"release": release_flyctl(release, app.current_release), "error": error}
    return JSONResponse(payload, status_code=201)


async def release_update(request: Request, backend: Backend) -> Response:
    """The deploy's end: ``{"status": "complete" | "failed" | "interrupted"}``."""
    body = await json_body(request)
    try:
        version = int(request.path_params["version"])
    except ValueError:
        raise BadRequest("version must be a number") from None
    release = backend.finish_release(
        request.path_params["app"], version, str(body.get("status", ""))
    )
    with backend.lock:
        app = backend.app(request.path_params["app"])
        return JSONResponse(release_flyctl(release, app.current_release))


async def scale_count(request: Request, backend: Backend) -> Response:
    """``fly scale count N [--region R] [--max-per-region N] [--process-group G]``."""
    body = await json_body(request)
    result = backend.scale_count(
        request.path_params["app"],
        _int(body, "count", required=True) or 0,
        region=body.get("region"),
        max_per_region=_int(body, "max_per_region"),
        process_group=body.get("process_group"),
    )
    return JSONResponse(result)


async def scale_show(request: Request, backend: Backend) -> Response:
    """``fly scale show --json``."""
    with backend.lock:
        return JSONResponse(scale_show_flyctl(backend.app(request.path_params["app"])))
