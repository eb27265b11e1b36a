"""Reading flysim's machine timeline (`GET /_sim/state` -> apps.<app>.timeline)."""

from __future__ import annotations

from typing import Any


def most_down_at_once(timeline: list[dict[str, Any]]) -> int:
    """The most machines not started at one moment: every change of state is on the timeline
    (``{"time", "machine", "state"}``); a machine is down from any other state until it is
    ``started`` again."""
    down: set[str] = set()
    worst = 0
    for change in sorted(timeline, key=lambda c: c["time"]):
        if change["state"] == "started":
            down.discard(change["machine"])
        else:
            down.add(change["machine"])
        worst = max(worst, len(down))
    return worst
