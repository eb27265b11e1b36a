"""Investigate Root Cause (runbook, post-incident): the post-mortem draft.

The timeline merges the incident run's own steps (detected, assessed, decided, acted,
recovered) with the audit log's records for the app since detection (who changed what, e.g. the
rollback's own record), in time order. Metrics are shown before and after the action. The cause
and the follow-ups are left blank for the people who investigate: the draft states facts only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from hotdash_ops.audit import AuditRecord
from hotdash_ops.incidents.response import (
    ACTION_TEXT,
    CAUSE_TEXT,
    RESPONSE_TARGETS,
    RESPONSE_TEXT,
    ActionOutcome,
    Decision,
    Diagnosis,
    Severity,
)
from hotdash_ops.local_time import zone as local_zone
from hotdash_ops.local_time import zone_name
from hotdash_ops.monitor.metrics import AppMetrics


class Step(StrEnum):
    """The incident run's steps, in the order they happen."""

    DETECTED = "detected"
    ASSESSED = "assessed"
    DECIDED = "decided"
    ACTED = "acted"
    RECOVERED = "recovered"
    NOT_RECOVERED = "not recovered"


class TimelineEntry(BaseModel):
    """One line of the timeline."""

    at: datetime
    step: str
    detail: str
    source: Literal["run", "audit"] = "run"


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def audit_entries(
    records: Iterable[AuditRecord], app: str, *, since: datetime
) -> list[TimelineEntry]:
    """The audit log's records for `app` from `since` on, as timeline entries."""
    out = []
    for record in records:
        at = _utc(datetime.fromisoformat(record.ts))
        if record.target != app or at < _utc(since):
            continue
        detail = f"{record.actor}"
        if record.reason:
            detail += f": {record.reason}"
        shown = {k: v for k, v in record.detail.items() if isinstance(v, str | int | float | bool)}
        if shown:
            detail += " (" + ", ".join(f"{k}={v}" for k, v in list(shown.items())[:6]) + ")"
        out.append(TimelineEntry(at=at, step=record.action, detail=detail, source="audit"))
    return out


def build_timeline(
    run_steps: Iterable[TimelineEntry],
    records: Iterable[AuditRecord],
    app: str,
    *,
    since: datetime,
) -> list[TimelineEntry]:
    """Run steps and audit records in time order (a run step first when the times tie)."""
    merged = [e.model_copy(update={"at": _utc(e.at)}) for e in run_steps]
    merged += audit_entries(records, app, since=since)
    return sorted(merged, key=lambda e: (e.at, e.source != "run"))


class PostMortem(BaseModel):
    """Everything the draft is written from."""

    incident: str  # the flow run's name (and the incident log's key)
    app: str
    severity: Severity
    summary: str
    reported_by: str
    detected_at: datetime
    diagnosis: Diagnosis
    decision: Decision | None = None
    outcome: ActionOutcome | None = None
    recovered: bool | None = None  # None: nothing was done that could recover it
    metrics_before: AppMetrics | None = None
    metrics_after: AppMetrics | None = None
    timeline: list[TimelineEntry]


def _minutes(delta_seconds: float) -> str:
    return f"{delta_seconds / 60:.1f} min"


def response_line(severity: Severity, detected_at: datetime, decided_at: datetime) -> str:
    """Time to decision against the severity's response target."""
    took = (_utc(decided_at) - _utc(detected_at)).total_seconds()
    target = RESPONSE_TARGETS[severity].total_seconds()
    if severity == Severity.P0:
        verdict = "automatic" if took < 60 else "decided by a person"
    else:
        verdict = "met" if took <= target else "MISSED"
    return f"{_minutes(took)} after detection (target: {RESPONSE_TEXT[severity]}; {verdict})"


_METRICS = (
    ("CPU", "cpu_pct", "{:.0f} %"),
    ("memory", "mem_pct", "{:.0f} %"),
    ("p95 latency", "p95_ms", "{:.0f} ms"),
    ("5xx ratio", "error_rate", "{:.1%}"),
    ("requests", "rps", "{:.1f}/s"),
)


def _metric(metrics: AppMetrics | None, key: str, pattern: str) -> str:
    if metrics is None:
        return "could not read"
    value = getattr(metrics, key)
    return "no data" if value is None else pattern.format(value)


def render_postmortem(pm: PostMortem, tz: str = "UTC") -> str:
    """The draft as markdown: facts filled in, cause and follow-ups blank; times in `tz` (the
    inventory's timezone), named."""
    zone = local_zone(tz)
    d = pm.decision
    lines = [
        f"# Post-mortem (draft): {pm.app}, {pm.severity}: {pm.summary or 'no summary'}",
        "",
        f"- **Incident**: {pm.incident}",
        f"- **Severity**: {pm.severity} (respond {RESPONSE_TEXT[pm.severity]})",
        f"- **Reported by**: {pm.reported_by}",
        f"- **Detected**: {_utc(pm.detected_at).astimezone(zone):%Y-%m-%d %H:%M:%S %Z}",
    ]
    if d is not None:
        how = "automatically (P0, inventory allows)" if d.automatic else f"by {d.decided_by}"
        lines.append(f"- **Decision**: `{d.action.value}` {how}")
        lines.append(f"- **Response**: {response_line(pm.severity, pm.detected_at, d.at)}")
        if d.comment:
            lines.append(f"- **Comment**: {d.comment}")
    else:
        lines.append("- **Decision**: none taken")
    if pm.outcome is not None:
        state = "done" if pm.outcome.ok else "FAILED"
        lines.append(
            f"- **Action**: {ACTION_TEXT[pm.outcome.action]}: {state}, {pm.outcome.detail}"
        )
    recovered = {True: "yes", False: "NO", None: "not checked (no change made)"}[pm.recovered]
    lines += [f"- **Recovered**: {recovered}", "", "## Timeline", ""]
    lines += [
        f"| time ({zone_name(tz)}) | step | what happened | source |",
        "| --- | --- | --- | --- |",
    ]
    for e in pm.timeline:
        detail = e.detail.replace("|", "\\|").replace("\n", " ")
        at = _utc(e.at).astimezone(zone)
        lines.append(f"| {at:%Y-%m-%d %H:%M:%S} | {e.step} | {detail} | {e.source} |")
    lines += ["", "## First diagnosis", ""]
    if pm.diagnosis.evidence:
        lines += [f"- **{CAUSE_TEXT[e.cause]}**: {e.detail}" for e in pm.diagnosis.evidence]
    else:
        lines.append("- no cause found")
    lines += [
        "",
        f"Recommended `{pm.diagnosis.recommended.value}`: {pm.diagnosis.rationale}.",
        "",
        "## Metrics before and after",
        "",
        "| metric | before | after |",
        "| --- | --- | --- |",
    ]
    for label, key, pattern in _METRICS:
        before = _metric(pm.metrics_before, key, pattern)
        after = _metric(pm.metrics_after, key, pattern)
        lines.append(f"| {label} | {before} | {after} |")
    lines += [
        "",
        "## Root cause",
        "",
        "_To be written by the investigation: what failed, and why._",
        "",
        "## Contributing factors",
        "",
        "_To be written._",
        "",
        "## Follow-ups",
        "",
        "| action | owner | due |",
        "| --- | --- | --- |",
        "|  |  |  |",
        "",
    ]
    return "\n".join(lines)
