"""Recognising the project's PromQL queries and answering them from flysim's series (flysim
does not evaluate PromQL; it knows which series Fly's Prometheus would hold).

Series (docs monitoring/metrics.html.md in superfly/docs; labels ``app``, ``region``, and
``instance`` on instance series):

* ``fly_edge_http_responses_count{status}`` (and its latency histogram): one counter series per
  status an app has answered with; an app that never had traffic has none, one that never
  answered a 5xx has no 5xx series (``Backend._update_edge_series``);
* ``fly_instance_cpu`` / ``fly_instance_memory_*``: one per started machine, from its start.

Rules, applied to the query text in this order (whitespace is ignored):

========================================================================  ============  ======
the query contains                                                        answers        unit
========================================================================  ============  ======
``histogram_quantile(0.95`` and ``fly_edge_http_response_time_seconds``   ``p95_ms``     s
``fly_edge_http_responses_count`` twice, a ``/`` and ``status=~"5..``     5xx ratio      0..1
``fly_edge_http_responses_count`` and ``status=~"5..``                    5xx rate       req/s
``fly_edge_http_responses_count`` (no 5xx matcher)                        ``rps``        req/s
``histogram_quantile(0.95`` and ``fly_app_http_response_time_seconds``    p95 / instance s
``fly_app_http_responses_count`` and ``status=~"5..``                     5xx / instance req/s
``fly_app_http_responses_count`` (no 5xx matcher)                         rps / instance req/s
``avg_over_time(`` ``> bool T`` and ``fly_edge_http_response_time_seconds``  slow share   0..1
``increase(`` and ``fly_edge_http_responses_count`` (and ``5..``)           requests (5xx) count
``fly_instance_cpu``                                                      ``cpu_pct``    %
``fly_instance_memory``                                                   ``mem_pct``    %
anything else                                                             no series
========================================================================  ============  ======

``fly_app_http_*`` are Fly Proxy's per-instance series (``instance`` = the machine id):
their answers have one series per app and instance, labelled ``{"app", "instance"}`` (the
project asks ``sum by (app, instance)``), from ``Backend.instance_samples`` over the query's
range window (``[1m]``; 60 s when none).

PromQL semantics that decide which apps get a series: ``sum by (app)`` of no series is no
series; a vector division keeps only the apps present on both sides ("Entries for which no
matching entry in the right-hand vector can be found are not part of the result",
https://prometheus.io/docs/prometheus/latest/querying/operators/), so the 5xx ratio of an app
with traffic but no 5xx series is absent, not 0; ``histogram_quantile`` over zero rates is NaN.
App selection: every ``app="X"`` matcher and every ``app=~"a|b"`` regex matcher (anchored, as
in PromQL) selects apps; with none, every app is selected, one series per app, labelled
``{"app": name}``. A figure set to null in the scenario has no series.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from flysim.state import App, Backend

_APP_EQ = re.compile(r'\bapp\s*=\s*"([^"]*)"')
_APP_RE = re.compile(r'\bapp\s*=~\s*"([^"]*)"')
EDGE = "fly_edge_http_responses_count"
APP_RESPONSES = "fly_app_http_responses_count"
APP_LATENCY = "fly_app_http_response_time_seconds"
INSTANCE_FIGURES = ("instance_p95_ms", "instance_errors_5xx", "instance_rps")
_RANGE = re.compile(r"\[(\d+)([smhd])[\]:]")
_BOOL_THRESHOLD = re.compile(r">\s*bool\s*([0-9.eE+-]+)")
BUDGET_FIGURES = ("slow_share", "errors_increase", "requests_increase")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def figure_for(query: str) -> str | None:
    """What the query asks for (``p95_ms``, ``error_ratio``, ``errors_5xx``, ``rps``,
    ``cpu_pct``, ``mem_pct``, or per instance ``instance_p95_ms``, ``instance_errors_5xx``,
    ``instance_rps``), or None when flysim does not know it."""
    text = re.sub(r"\s+", "", query)
    five = 'status=~"5..' in text or "status=~'5.." in text
    if "avg_over_time(" in text and ">bool" in text and "fly_edge_http_response_time" in text:
        return "slow_share"
    if "increase(" in text and EDGE in text:
        return "errors_increase" if five else "requests_increase"
    if "histogram_quantile(0.95" in text and APP_LATENCY in text:
        return "instance_p95_ms"
    if APP_RESPONSES in text:
        return "instance_errors_5xx" if five else "instance_rps"
    if "histogram_quantile(0.95" in text and "fly_edge_http_response_time_seconds" in text:
        return "p95_ms"
    if EDGE in text:
        if five and text.count(EDGE) >= 2 and "/" in text:
            return "error_ratio"
        return "errors_5xx" if five else "rps"
    if "fly_instance_cpu" in text:
        return "cpu_pct"
    if "fly_instance_memory" in text:
        return "mem_pct"
    return None


def select_apps(query: str, apps: Iterable[str]) -> list[str]:
    """The apps the query's ``app`` matchers select (all when it has none)."""
    names = list(apps)
    equal = _APP_EQ.findall(query)
    regexes = _APP_RE.findall(query)
    if not equal and not regexes:
        return names
    chosen = []
    for name in names:
        if name in equal or any(re.fullmatch(rx, name) for rx in regexes):
            chosen.append(name)
    return chosen


def app_series(backend: Backend, app: App, figure: str) -> tuple[float, float] | None:
    """``(since, value)`` of the app's one result series for `figure`, or None when Fly's
    Prometheus would have no series for it. Values are in the query's unit (p95 in seconds)."""
    metrics = backend.effective_metrics(app)
    if figure in ("cpu_pct", "mem_pct"):
        starts = backend.started_since(app)
        value = metrics.get(figure)
        return (min(starts), value) if starts and value is not None else None
    edge = app.edge_series
    if not edge:
        return None
    total = sum(s.rate for s in edge.values())
    since = min(s.since for s in edge.values())
    errors = [s for status, s in edge.items() if status.startswith("5")]
    if figure == "rps":
        return since, total
    if figure == "p95_ms":
        p95 = metrics.get("p95_ms")
        if p95 is None:
            return None
        return since, (p95 / 1000 if total > 0 else math.nan)
    if not errors:
        return None
    rate = sum(s.rate for s in errors)
    first_error = min(s.since for s in errors)
    if figure == "errors_5xx":
        return first_error, rate
    return max(since, first_error), (rate / total if total > 0 else math.nan)


def range_seconds(query: str) -> float:
    """The query's range window in seconds (``[1m]`` -> 60), 60 when it has none."""
    found = _RANGE.search(query)
    return float(int(found.group(1)) * _SECONDS[found.group(2)]) if found else 60.0


def instance_series(
    backend: Backend, app: App, figure: str, query: str, at: float
) -> list[tuple[str, float, float]]:
    """``(instance, since, value)`` of the app's per-instance series for `figure` at `at`."""
    name = figure.removeprefix("instance_")
    return backend.instance_samples(app, name, at, range_seconds(query))


def budget_series(
    backend: Backend, app: App, figure: str, query: str, at: float
) -> tuple[float, float] | None:
    """``(since, value)`` for the error-budget queries: responses (or 5xx responses) counted
    over the query's window, as ``increase()`` counts them (only from when the series
    exists), or the share of the window's minutes with p95 above the ``> bool`` threshold
    (flysim's p95 does not change within a window, so the share is 0 or 1)."""
    window = range_seconds(query)
    if figure == "slow_share":
        found = app_series(backend, app, "p95_ms")
        threshold = _BOOL_THRESHOLD.search(re.sub(r"\s+", "", query))
        if found is None or threshold is None or math.isnan(found[1]):
            return None
        return found[0], (1.0 if found[1] > float(threshold.group(1)) else 0.0)
    rate = app_series(backend, app, "errors_5xx" if figure == "errors_increase" else "rps")
    if rate is None:
        return None
    since, per_second = rate
    return since, per_second * max(0.0, min(window, at - since))
