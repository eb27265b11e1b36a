"""The incident record: steps in order, the texts people receive, the log entry and the
post-mortem it makes (pure, no Prefect)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotdash_ops.incidents.record import IncidentRecord
from hotdash_ops.incidents.response import (
    Action,
    ActionOutcome,
    AutoVerdict,
    Cause,
    Decision,
    Diagnosis,
    Evidence,
    Severity,
)

T0 = datetime(2025, 10, 14, 12, 0, 0, tzinfo=UTC)
APP = "hotdash-staging"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def opened() -> IncidentRecord:
    incident = IncidentRecord(
        incident="brave-fox",
        app=APP,
        severity=Severity.P1,
        summary="503s since the deploy",
        reported_by="alice",
        detected_at=T0,
        run_url="http://ui/runs/flow-run/1",
    )
    incident.detected()
    incident.assessed(
        Diagnosis(
            evidence=[
                Evidence(cause=Cause.RECENT_DEPLOY, detail="release v4 10 min ago"),
                Evidence(cause=Cause.HEALTH_FAILING, detail="/health 503"),
            ],
            recommended=Action.ROLLBACK,
            rationale="deployment-related",
        ),
        None,
        at(20),
    )
    return incident


def rolled_back(incident: IncidentRecord, *, ok: bool, recovered: bool) -> IncidentRecord:
    incident.decided(
        Decision(
            action=Action.ROLLBACK, decided_by="bob", automatic=False, at=at(300), comment="go"
        )
    )
    detail = "rolled back to v3" if ok else "rollback failed: flyctl exited 1"
    incident.acted(
        ActionOutcome(
            action=Action.ROLLBACK, ok=ok, detail=detail, started_at=at(301), finished_at=at(330)
        )
    )
    incident.watched(recovered, "/health answered 200" if recovered else "/health 503", at(340))
    return incident


def test_steps_are_kept_in_the_order_and_at_the_times_they_happened() -> None:
    incident = rolled_back(opened(), ok=True, recovered=True)
    assert [(s.step, s.at, s.detail) for s in incident.steps] == [
        ("detected", T0, "P1 reported by alice: 503s since the deploy"),
        ("assessed", at(20), "deploy in the last hours, health failing; recommended rollback"),
        ("decided", at(300), "rollback by bob: go"),
        ("acted", at(330), "rolled back to v3"),
        ("recovered", at(340), "/health answered 200"),
    ]
    assert incident.ended_well
    assert incident.result() == f"{APP}: rollback by bob; mitigated, the app has recovered"
    assert incident.page_status == "monitoring"


@pytest.mark.parametrize(("ok", "recovered"), [(False, True), (True, False)])
def test_a_failed_action_or_no_recovery_is_not_a_good_end(ok: bool, recovered: bool) -> None:
    incident = rolled_back(opened(), ok=ok, recovered=recovered)
    assert not incident.ended_well
    if not ok:
        assert incident.steps[3].detail == "FAILED: rollback failed: flyctl exited 1"
    else:
        assert incident.steps[-1].step == "not recovered"
        assert incident.page_status == "identified"


def test_opened_notice_says_who_decides_and_where() -> None:
    incident = opened()
    subject, body = incident.opened_notice(AutoVerdict(act=False, reason="P1: a person decides"))
    assert subject == f"[P1] {APP}: incident opened (brave-fox)"
    assert "respond under 30 minutes" in body
    assert "Diagnosis: deploy in the last hours, health failing" in body
    assert body.endswith(
        "Next: DECISION NEEDED (P1: a person decides): resume the run http://ui/runs/flow-run/1"
    )
    _, body = incident.opened_notice(AutoVerdict(act=True, reason="within the guardrails"))
    assert body.endswith("Next: acting now: rollback (within the guardrails)")


def test_nothing_done_reads_as_no_change_in_notices_and_log() -> None:
    incident = opened()
    incident.decided(Decision(action=Action.NONE, decided_by="dave", automatic=False, at=at(60)))
    assert incident.ended_well and incident.recovered is None
    (subject, body), (update, details) = incident.closing_notices()
    assert subject == f"[P1] {APP}: no change made, still investigating"
    assert "Action: no change to the app (communicate and keep watching) (decided by dave)" in body
    assert update == f"[P1] {APP}: incident brave-fox update"
    assert "Decision: none by dave" in details and "Recovered: None" in details
    entry = incident.log_entry()
    assert (entry.action, entry.recovered, entry.decided_by) == ("none", "n/a", "dave")
    assert entry.diagnosis == "deploy in the last hours, health failing; recommended rollback"


def test_postmortem_merges_steps_and_refuses_before_assessment() -> None:
    draft = rolled_back(opened(), ok=True, recovered=True).postmortem([])
    assert [e.step for e in draft.timeline] == [
        "detected",
        "assessed",
        "decided",
        "acted",
        "recovered",
    ]
    bare = IncidentRecord(
        incident="x", app=APP, severity=Severity.P2, summary="s", reported_by="a", detected_at=T0
    )
    with pytest.raises(ValueError, match="diagnosis: the incident was not assessed"):
        bare.postmortem([])
