"""The incident log: one markdown file under the stack's state folder, an entry per incident
(the runbook's Communicate step "Log in feedback/deployment.md"; ours is
`<HOTDASH_STATE_DIR>/incident-log.md`).

Entries are appended, newest last, under an exclusive file lock so runs on several workers
never interleave. Every text passes the redactor.
"""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from hotdash_ops.local_time import shown
from hotdash_ops.redaction import Redactor, default_redactor

INCIDENT_LOG_FILENAME = "incident-log.md"
_HEADER = (
    "# Incident log\n\n"
    "Written by the `incident-response` flow, one entry per incident, newest last.\n"
)


class IncidentLogEntry(BaseModel):
    """What the log keeps of one incident."""

    at: datetime
    incident: str  # the flow run's name
    app: str
    severity: str
    summary: str
    reported_by: str
    diagnosis: str
    action: str
    decided_by: str
    outcome: str
    recovered: str
    run_url: str | None = None


def incident_log_path(state_dir: Path) -> Path:
    """`<state>/incident-log.md`."""
    return Path(state_dir) / INCIDENT_LOG_FILENAME


def render_entry(entry: IncidentLogEntry, tz: str = "UTC") -> str:
    """One entry as a markdown section; its time in `tz` (the inventory's timezone), named."""
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
    lines = [
        f"## {shown(at, tz)}: {entry.severity} {entry.app}: {entry.summary}",
        "",
        f"- **Incident**: {entry.incident}",
        f"- **Reported by**: {entry.reported_by}",
        f"- **Diagnosis**: {entry.diagnosis}",
        f"- **Action**: {entry.action} (decided by {entry.decided_by})",
        f"- **Outcome**: {entry.outcome}",
        f"- **Recovered**: {entry.recovered}",
    ]
    if entry.run_url:
        lines.append(f"- **Run**: {entry.run_url}")
    return "\n".join(lines) + "\n"


def append_entry(
    path: Path, entry: IncidentLogEntry, *, redactor: Redactor | None = None, tz: str = "UTC"
) -> str:
    """Append `entry` (creating the file with its header); returns the text written."""
    text = (redactor or default_redactor()).redact(render_entry(entry, tz))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                fh.write(_HEADER)
            fh.write("\n" + text)
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return text
