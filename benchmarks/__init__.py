"""Benchmarks run by `make bench`; numbers go in the README."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(repeats: int, fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """The fastest of `repeats` calls (seconds) and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - started)
    return best, result
