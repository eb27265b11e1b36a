"""Logs API handler: JSON:API entries, 100 at a time.

Without ``next_token`` the newest 100; with it (a nanosecond Unix time) the 100 oldest after
that time, and ``meta.next_token`` the time of the last one, so a reader pages forward from
any moment (docs monitoring/logs-api-options: "Returns logs after this time, used either as
a paging cursor or to backfill from a specific moment").
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flysim.errors import BadRequest
from flysim.shapes import log_json
from flysim.state import Backend

PAGE = 100


def _ns(entry_ts: float) -> int:
    return int(entry_ts * 1_000_000_000)


async def get_app_logs(request: Request, backend: Backend) -> Response:
    """``GET /api/v1/apps/{app}/logs?region=&instance=&next_token=``."""
    params = request.query_params
    token = params.get("next_token") or "0"
    try:
        after = int(token)
    except ValueError:
        raise BadRequest(f"invalid next_token {token!r}") from None
    region, instance = params.get("region"), params.get("instance")
    with backend.lock:
        app = backend.app(request.path_params["app"])
        matching = [
            e
            for e in sorted(app.logs, key=lambda e: e.timestamp)
            if _ns(e.timestamp.timestamp()) > after
            and (not region or e.region == region)
            and (not instance or e.instance == instance)
        ]
        entries = matching[:PAGE] if after else matching[-PAGE:]
        data = [log_json(app, e) for e in entries]
    next_token = str(_ns(entries[-1].timestamp.timestamp())) if entries else str(after)
    return JSONResponse({"data": data, "meta": {"next_token": next_token}})
