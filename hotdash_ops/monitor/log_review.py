"""The overnight error review: which log lines count as errors; and `app-logs`' filter."""

from __future__ import annotations

import re
from collections.abc import Iterable

from hotdash_ops.models import LogEntry

_ERROR_LEVELS = {"error", "err", "fatal", "critical", "crit", "panic"}
_ERROR_WORD = re.compile(r"error", re.IGNORECASE)  # the runbook's `grep -i error`


def error_lines(entries: Iterable[LogEntry], *, limit: int = 50) -> list[LogEntry]:
    """The last `limit` entries at an error level or whose message says "error"."""
    hits = [
        e
        for e in entries
        if (e.level or "").lower() in _ERROR_LEVELS or _ERROR_WORD.search(e.message or "")
    ]
    return hits[-limit:] if limit > 0 else []


def matching(entries: Iterable[LogEntry], text: str | None) -> list[LogEntry]:
    """The entries whose message contains `text`, any case (`grep -i TEXT`); all without."""
    if not text:
        return list(entries)
    needle = text.casefold()
    return [e for e in entries if needle in (e.message or "").casefold()]
