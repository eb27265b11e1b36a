"""Post-mortem draft and incident log (pure, no Prefect)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotdash_ops.audit import AuditLog
from hotdash_ops.incidents.log import IncidentLogEntry, append_entry, incident_log_path
from hotdash_ops.incidents.postmortem import (
    PostMortem,
    Step,
    TimelineEntry,
    audit_entries,
    build_timeline,
    render_postmortem,
    response_line,
)
from hotdash_ops.incidents.response import (
    Action,
    ActionOutcome,
    Cause,
    Decision,
    Diagnosis,
    Evidence,
    Severity,
)
from hotdash_ops.monitor.metrics import AppMetrics
from hotdash_ops.redaction import Redactor

T0 = datetime(2025, 10, 14, 12, 0, 0, tzinfo=UTC)
APP = "hotdash-staging"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run_steps() -> list[TimelineEntry]:
    return [
        TimelineEntry(at=at(0), step=Step.DETECTED, detail="P1 reported by alice: 503s"),
        TimelineEntry(at=at(20), step=Step.ASSESSED, detail="deploy in the last hours"),
        TimelineEntry(at=at(300), step=Step.DECIDED, detail="rollback by bob"),
        TimelineEntry(at=at(330), step=Step.ACTED, detail="rolled back"),
        TimelineEntry(at=at(340), step=Step.RECOVERED, detail="/health answered 200"),
    ]


def records(tmp_path, entries: list[tuple[float, str, str]]):
    log = AuditLog(tmp_path / "audit.jsonl", redactor=Redactor())
    for _, action, target in entries:
        log.append("bob", action, target, {"to_version": 3}, reason="incident")
    out = log.records()
    return [
        r.model_copy(update={"ts": at(s).isoformat()})
        for r, (s, _, _) in zip(out, entries, strict=True)
    ]


def test_timeline_merges_run_steps_and_audit_records_in_time_order(tmp_path) -> None:
    recs = records(
        tmp_path,
        [(-600, "deploy.completed", APP), (310, "rollback.started", APP),
         (329, "rollback", APP), (320, "restart", "other-app")],
    )  # fmt: skip
    timeline = build_timeline(run_steps(), recs, APP, since=T0)
    assert [(e.step, e.source) for e in timeline] == [
        ("detected", "run"),
        ("assessed", "run"),
        ("decided", "run"),
        ("rollback.started", "audit"),
        ("rollback", "audit"),
        ("acted", "run"),
        ("recovered", "run"),
    ]
    [rollback] = [e for e in audit_entries(recs, APP, since=T0) if e.step == "rollback"]
    assert rollback.detail == "bob: incident (to_version=3)"


def test_draft_lists_steps_with_times_metrics_and_blank_sections() -> None:
    pm = PostMortem(
        incident="brave-fox",
        app=APP,
        severity=Severity.P1,
        summary="503s",
        reported_by="alice",
        detected_at=T0,
        diagnosis=Diagnosis(
            evidence=[Evidence(cause=Cause.RECENT_DEPLOY, detail="release v4 10 min ago")],
            recommended=Action.ROLLBACK,
            rationale="deployment-related",
        ),
        decision=Decision(action=Action.ROLLBACK, decided_by="bob", automatic=False, at=at(300)),
        outcome=ActionOutcome(
            action=Action.ROLLBACK,
            ok=True,
            detail="rolled back to v3",
            started_at=at(301),
            finished_at=at(330),
        ),  # fmt: skip
        recovered=True,
        metrics_before=AppMetrics(app=APP, cpu_pct=93, error_rate=0.27),
        metrics_after=AppMetrics(app=APP, cpu_pct=18, error_rate=0.002),
        timeline=run_steps(),
    )
    local = render_postmortem(pm, "America/Los_Angeles")
    assert "| time (America/Los_Angeles) | step |" in local
    assert "| 2025-10-14 05:00:00 | detected |" in local
    assert "- **Detected**: 2025-10-14 05:00:00 PDT" in local
    text = render_postmortem(pm)
    lines = text.splitlines()
    rows = [line for line in lines if line.startswith("| 2025-10-14")]
    assert rows == [
        "| 2025-10-14 12:00:00 | detected | P1 reported by alice: 503s | run |",
        "| 2025-10-14 12:00:20 | assessed | deploy in the last hours | run |",
        "| 2025-10-14 12:05:00 | decided | rollback by bob | run |",
        "| 2025-10-14 12:05:30 | acted | rolled back | run |",
        "| 2025-10-14 12:05:40 | recovered | /health answered 200 | run |",
    ]
    assert "- **Response**: 5.0 min after detection (target: under 30 minutes; met)" in text
    assert "| CPU | 93 % | 18 % |" in text
    assert "| 5xx ratio | 27.0% | 0.2% |" in text
    assert "| memory | no data | no data |" in text
    assert "## Root cause\n\n_To be written by the investigation" in text
    assert "## Follow-ups\n\n| action | owner | due |" in text
    assert "- **Recovered**: yes" in text


def test_response_target_missed_and_p0() -> None:
    assert response_line(Severity.P2, T0, at(3 * 3600)).endswith("(target: under 2 hours; MISSED)")
    assert "automatic" in response_line(Severity.P0, T0, at(5))


def test_incident_log_appends_entries_under_one_header(tmp_path) -> None:
    path = incident_log_path(tmp_path / "state")
    assert path == tmp_path / "state" / "incident-log.md"
    entry = IncidentLogEntry(
        at=T0, incident="brave-fox", app=APP, severity="P1", summary="503s after deploy",
        reported_by="alice", diagnosis="deploy in the last hours; recommended rollback",
        action="rollback: rolled back to v3", decided_by="bob", outcome="mitigated",
        recovered="yes", run_url=None,
    )  # fmt: skip
    append_entry(path, entry, redactor=Redactor())
    append_entry(
        path,
        entry.model_copy(update={"incident": "calm-owl", "summary": "token tok_SECRET_123 leaked"}),
        redactor=Redactor(["tok_SECRET_123"]),
        tz="America/Los_Angeles",  # the inventory's timezone, named
    )
    text = path.read_text()
    assert text.startswith("# Incident log\n")
    assert text.count("# Incident log") == 1
    assert "## 2025-10-14 12:00 UTC: P1 hotdash-staging: 503s after deploy" in text
    assert "## 2025-10-14 05:00 PDT: P1 hotdash-staging: token" in text
    assert "- **Action**: rollback: rolled back to v3 (decided by bob)" in text
    assert text.index("brave-fox") < text.index("calm-owl")  # newest last
    assert "tok_SECRET_123" not in text and "***REDACTED***" in text
