"""Prometheus HTTP API handlers: instant and range queries, GET or form-encoded POST.

Answers use Prometheus' JSON (``{"status": "success", "data": {"resultType": ...}}``) and its
error shape (``{"status": "error", "errorType": "bad_data", "error": ...}``, 400) for bad
parameters. Faults of the selected apps apply (a fleet-wide query selects every app).
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flysim.errors import NotFound
from flysim.guard import apply_faults
from flysim.prometheus.promql import app_series, figure_for, select_apps
from flysim.state import Backend

MAX_POINTS = 11000
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class BadData(ValueError):
    """A parameter Prometheus would refuse."""


def _bad(message: str) -> Response:
    return JSONResponse(
        {"status": "error", "errorType": "bad_data", "error": message}, status_code=400
    )


def parse_time(value: str | None, default: float) -> float:
    """Unix seconds or RFC 3339."""
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise BadData(f'cannot parse "{value}" to a valid timestamp') from None


def parse_step(value: str | None) -> float:
    """Seconds (``60``, ``15.5``) or a duration (``1m``, ``1h30m``)."""
    if not value:
        raise BadData("missing step")
    try:
        step = float(value)
    except ValueError:
        parts = _DURATION.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise BadData(f'cannot parse "{value}" to a valid duration') from None
        step = sum(float(n) * _UNITS[u] for n, u in parts)
    if step <= 0:
        raise BadData("zero or negative query resolution step widths are not accepted")
    return step


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "NaN"  # Prometheus' spelling
    return format(value, ".10g")


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":  # application/x-www-form-urlencoded, as Prometheus takes
        body = (await request.body()).decode("utf-8", "replace")
        params.update(dict(parse_qsl(body, keep_blank_values=True)))
    return params


async def _series(request: Request, backend: Backend, query: str) -> list[tuple[str, float, float]]:
    """``[(app, since, value)]`` for the query, faults of the selected apps applied."""
    if request.path_params["org"] != backend.org:
        raise NotFound(f"organization {request.path_params['org']!r} not found")
    figure = figure_for(query)
    with backend.lock:
        names = select_apps(query, backend.apps)
    await apply_faults(backend, names, mutation=False)
    if figure is None:
        return []
    out: list[tuple[str, float, float]] = []
    with backend.lock:
        for app_name in names:
            found = app_series(backend, backend.apps[app_name], figure)
            if found is not None:
                out.append((app_name, *found))
    return out


async def query(request: Request, backend: Backend) -> Response:
    """``/prometheus/<org>/api/v1/query``: a vector, one sample per app."""
    params = await _params(request)
    if not params.get("query"):
        return _bad("missing query")
    try:
        at = parse_time(params.get("time"), time.time())
    except BadData as exc:
        return _bad(str(exc))
    series = await _series(request, backend, params["query"])
    result = [
        {"metric": {"app": app}, "value": [at, _fmt(v)]} for app, since, v in series if since <= at
    ]
    return JSONResponse({"status": "success", "data": {"resultType": "vector", "result": result}})


async def query_range(request: Request, backend: Backend) -> Response:
    """``/prometheus/<org>/api/v1/query_range``: a matrix, the current value every step."""
    params = await _params(request)
    if not params.get("query"):
        return _bad("missing query")
    try:
        if not params.get("start") or not params.get("end"):
            raise BadData("missing start or end")
        start = parse_time(params["start"], 0)
        end = parse_time(params["end"], 0)
        step = parse_step(params.get("step"))
        if end < start:
            raise BadData("end timestamp must not be before start time")
        if (end - start) / step > MAX_POINTS:
            raise BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
    except BadData as exc:
        return _bad(str(exc))
    series = await _series(request, backend, params["query"])
    count = int((end - start) // step) + 1
    stamps = [start + i * step for i in range(count)]
    result: list[dict[str, Any]] = [
        {"metric": {"app": app}, "values": [[t, _fmt(v)] for t in stamps if t >= since]}
        for app, since, v in series
        if since <= end
    ]
    return JSONResponse({"status": "success", "data": {"resultType": "matrix", "result": result}})
