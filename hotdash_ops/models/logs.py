"""Log entries from the logs API (JSON:API) and from `fly logs --json` (concatenated objects)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hotdash_ops.models._base import FlyModel


class LogEntry(FlyModel):
    """One log line."""

    timestamp: datetime | None = None
    message: str = ""
    level: str | None = None
    instance: str | None = None
    region: str | None = None

    @property
    def is_error(self) -> bool:
        """What the runbook's `grep -i error` would keep (level or message)."""
        return (self.level or "").lower() in ("error", "fatal", "critical") or (
            "error" in self.message.lower()
        )


def parse_logs_api(body: Any) -> list[LogEntry]:
    """`{"data":[{"id","attributes":{...}}],"meta":{...}}` from GET /api/v1/apps/{app}/logs."""
    return parse_logs_page(body)[0]


def parse_logs_page(body: Any) -> tuple[list[LogEntry], str | None]:
    """The entries of one logs API answer and its `meta.next_token` (None when absent)."""
    data = body.get("data") if isinstance(body, dict) else None
    meta = body.get("meta") if isinstance(body, dict) else None
    token = meta.get("next_token") if isinstance(meta, dict) else None
    entries = []
    for item in data if isinstance(data, list) else []:
        attrs = item.get("attributes", item) if isinstance(item, dict) else None
        if isinstance(attrs, dict):
            entries.append(LogEntry.model_validate(attrs))
    return entries, str(token) if token not in (None, "") else None


def parse_flyctl_log_stream(text: str) -> list[LogEntry]:
    """Parse `fly logs --json` output: indented JSON objects one after another, not an array."""
    decoder = json.JSONDecoder()
    entries: list[LogEntry] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return entries
        obj, pos = decoder.raw_decode(text, pos)
        if isinstance(obj, list):
            entries.extend(LogEntry.model_validate(o) for o in obj if isinstance(o, dict))
        elif isinstance(obj, dict):
            entries.append(LogEntry.model_validate(obj))
