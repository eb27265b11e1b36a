"""Prometheus HTTP API handlers: instant and range queries, GET or form-encoded POST.

Answers use Prometheus' JSON (``{"status": "success", "data": {"resultType": ...}}``) and its
error shape (``{"status": "error", "errorType": "bad_data", "error": ...}``, 400) for bad
parameters. Faults of the selected apps apply (a fleet-wide query selects every app).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flysim.errors import NotFound
from flysim.guard import apply_faults
from flysim.prometheus.promql import (
    BUDGET_FIGURES,
    INSTANCE_FIGURES,
    app_series,
    budget_series,
    figure_for,
    instance_series,
    select_apps,
)
from flysim.state import App, Backend

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


Labels = dict[str, str]
ValueAt = Callable[[float], float]


async def _series(
    request: Request, backend: Backend, query: str
) -> list[tuple[Labels, float, ValueAt]]:
    """``[(labels, since, value at a time)]`` for the query, faults of the selected apps
    applied: one series per app, or per app and instance for ``fly_app_http_*``."""
    if request.path_params["org"] != backend.org:
        raise NotFound(f"organization {request.path_params['org']!r} not found")
    figure = figure_for(query)
    with backend.lock:
        names = select_apps(query, backend.apps)
    await apply_faults(backend, names, mutation=False)
    if figure is None:
        return []
    out: list[tuple[Labels, float, ValueAt]] = []
    with backend.lock:
        for app_name in names:
            app = backend.apps[app_name]
            if figure in INSTANCE_FIGURES:
                out.extend(_per_instance(backend, app, figure, query))
                continue
            if figure in BUDGET_FIGURES:
                counted = budget_series(backend, app, figure, query, time.time())
                if counted is not None:
                    since, value = counted
                    out.append(({"app": app_name}, since, lambda _t, v=value: v))
                continue
            found = app_series(backend, app, figure)
            if found is not None:
                since, value = found
                out.append(({"app": app_name}, since, lambda _t, v=value: v))
    return out


def _per_instance(
    backend: Backend, app: App, figure: str, query: str
) -> list[tuple[Labels, float, ValueAt]]:
    """Each instance's series; its value at a time is sampled at that time (under the lock)."""
    now = time.time()
    out: list[tuple[Labels, float, ValueAt]] = []
    for instance, since, _ in instance_series(backend, app, figure, query, now):

        def at(t: float, instance: str = instance) -> float:
            with backend.lock:
                found = instance_series(backend, app, figure, query, t)
            return next((v for i, _, v in found if i == instance), math.nan)

        out.append(({"app": app.name, "instance": instance}, since, at))
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
        {"metric": labels, "value": [at, _fmt(value(at))]}
        for labels, since, value in series
        if since <= at
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
        {"metric": labels, "values": [[t, _fmt(value(t))] for t in stamps if t >= since]}
        for labels, since, value in series
        if since <= end
    ]
    return JSONResponse({"status": "success", "data": {"resultType": "matrix", "result": result}})
