"""Recognising the project's PromQL queries (flysim does not evaluate PromQL).

Rules, applied to the query text in this order (whitespace is ignored):

=====================================================================  ==============  ==========
the query contains                                                     figure           unit
=====================================================================  ==============  ==========
``histogram_quantile(0.95`` and ``fly_edge_http_response_time_seconds``  ``p95_ms``      seconds
``fly_edge_http_responses_count`` and ``status=~"5..``                 ``error_rate``   0..1
``fly_edge_http_responses_count`` (no 5xx matcher)                     ``rps``          req/s
``fly_instance_cpu``                                                   ``cpu_pct``      percent
``fly_instance_memory``                                                ``mem_pct``      percent
anything else                                                          no series (empty result)
=====================================================================  ==============  ==========

p95 is answered in seconds (``p95_ms / 1000``), as ``histogram_quantile`` over the edge
histogram would be. App selection: every ``app="X"`` matcher and every ``app=~"a|b"`` regex
matcher (anchored, as in PromQL) in the text selects apps; with none, every app is selected,
one series per app, labelled ``{"app": name}``. An app whose figure is null or missing has no
series.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_APP_EQ = re.compile(r'\bapp\s*=\s*"([^"]*)"')
_APP_RE = re.compile(r'\bapp\s*=~\s*"([^"]*)"')


def figure_for(query: str) -> tuple[str, float] | None:
    """``(figure, scale)`` the query asks for, or None when flysim does not know it."""
    text = re.sub(r"\s+", "", query)
    if "histogram_quantile(0.95" in text and "fly_edge_http_response_time_seconds" in text:
        return "p95_ms", 0.001
    if "fly_edge_http_responses_count" in text:
        if 'status=~"5..' in text or "status=~'5.." in text:
            return "error_rate", 1.0
        return "rps", 1.0
    if "fly_instance_cpu" in text:
        return "cpu_pct", 1.0
    if "fly_instance_memory" in text:
        return "mem_pct", 1.0
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
