"""Severity, first diagnosis, recommendation and guardrails (pure, no Prefect)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotdash_ops.audit import AuditLog
from hotdash_ops.incidents.response import (
    Action,
    Cause,
    IncidentFacts,
    IncidentPolicy,
    PastAction,
    Severity,
    action_history,
    automatic_decision,
    check_guardrails,
    diagnose,
    incident_policy,
    render_assessment,
    respond_by,
    scale_up_count,
    status_after,
)
from hotdash_ops.inventory import ROLE_THRESHOLDS, Thresholds, load_inventory
from hotdash_ops.models import AppStatus, Release
from hotdash_ops.monitor.alert_rules import Outcome, RuleName, RuleVerdict
from hotdash_ops.monitor.alert_rules import Severity as Sev
from hotdash_ops.monitor.metrics import AppMetrics
from hotdash_ops.monitor.probe import ProbeResult
from hotdash_ops.redaction import Redactor
from tests.conftest import ROOT

NOW = datetime(2025, 10, 14, 12, 0, tzinfo=UTC)
POLICY = IncidentPolicy()
APP = "hotdash-staging"


def release(version: int, minutes_ago: float, status: str = "complete") -> Release:
    return Release.model_validate(
        {
            "ID": f"r{version}",
            "Version": version,
            "Status": status,
            "CreatedAt": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
            "ImageRef": f"registry.fly.io/{APP}:v{version}",
            "User": {"Email": "dev@hotdash.test"},
        }
    )


def status(
    version: int, machines: int = 1, check: str = "passing", state: str = "started"
) -> AppStatus:
    return AppStatus.model_validate(
        {
            "Name": APP,
            "Version": version,
            "Machines": [
                {
                    "id": f"m{i}",
                    "state": state,
                    "region": "ord",
                    "config": {"metadata": {"fly_release_version": str(version)}},
                    "checks": [{"name": "c", "status": check}],
                }
                for i in range(machines)
            ],
        }
    )


def facts(
    *,
    releases: list[Release] | None = None,
    version: int = 3,
    health: int | None = 200,
    metrics: dict[str, float] | None = None,
    deps: list[RuleVerdict] | None = None,
    machines: int = 1,
    check: str = "passing",
) -> IncidentFacts:
    return IncidentFacts(
        app=APP,
        thresholds=Thresholds(**ROLE_THRESHOLDS["web"]),
        now=NOW,
        status=status(version, machines, check),
        releases=releases
        if releases is not None
        else [release(1, 5000), release(2, 3000), release(3, 1440)],  # fmt: skip
        health=ProbeResult(
            url=f"http://x/_apps/{APP}/health",
            expected_status=200,
            status=health,
            error=None if health else "connection refused",
        ),
        metrics=AppMetrics(
            app=APP,
            **{"cpu_pct": 20, "mem_pct": 40, "error_rate": 0.001, "rps": 3, **(metrics or {})},
        ),  # fmt: skip
        error_logs=[],
        dependencies=deps or [],
    )


def test_response_targets() -> None:
    assert respond_by(Severity.P0, NOW) == NOW
    assert respond_by(Severity.P1, NOW) == NOW + timedelta(minutes=30)
    assert respond_by(Severity.P2, NOW) == NOW + timedelta(hours=2)


def test_deploy_ten_minutes_ago_with_failing_health_recommends_rollback() -> None:
    f = facts(releases=[release(2, 3000), release(3, 1440), release(4, 10)], version=4, health=503)
    d = diagnose(f, POLICY, max_count=10)
    assert d.recommended == Action.ROLLBACK
    assert d.causes == [Cause.RECENT_DEPLOY, Cause.HEALTH_FAILING]
    assert d.evidence[0].detail == (
        f"release v4 (registry.fly.io/{APP}:v4) deployed 10 min ago by dev@hotdash.test"
    )
    assert "answered 503 (expected 200)" in d.evidence[1].detail
    assert (d.running_version, d.rollback_version) == (4, 3)


def test_rollback_skips_a_failed_release() -> None:
    rels = [release(2, 3000), release(3, 60, "failed"), release(4, 10)]
    d = diagnose(facts(releases=rels, version=4, health=503), POLICY, max_count=10)
    assert (d.recommended, d.rollback_version) == (Action.ROLLBACK, 2)


def test_old_deploy_is_not_evidence() -> None:
    d = diagnose(facts(health=503), POLICY, max_count=10)  # v3 is a day old
    assert d.causes == [Cause.HEALTH_FAILING]
    assert d.recommended == Action.RESTART


def test_recent_deploy_without_an_older_complete_release_cannot_roll_back() -> None:
    d = diagnose(facts(releases=[release(1, 10)], version=1, health=503), POLICY, max_count=10)
    assert d.recommended == Action.RESTART
    assert "a rollback is not possible" in d.rationale


def test_recent_deploy_without_symptoms_changes_nothing() -> None:
    d = diagnose(facts(releases=[release(2, 3000), release(3, 30)]), POLICY, max_count=10)
    assert d.causes == [Cause.RECENT_DEPLOY]
    assert d.recommended == Action.NONE
    assert "no symptom was measured" in d.rationale


def test_memory_high_recommends_restart() -> None:
    d = diagnose(facts(metrics={"mem_pct": 93}), POLICY, max_count=10)
    assert d.recommended == Action.RESTART
    assert d.evidence[0].detail == "memory 93 % > 85 %"


def test_cpu_high_recommends_scale_up_to_the_runbooks_three() -> None:
    d = diagnose(facts(metrics={"cpu_pct": 91}), POLICY, max_count=10)
    assert (d.recommended, d.scale_to) == (Action.SCALE_UP, 3)
    assert d.evidence[0].detail == "CPU 91 % > 80 % at 3.0 req/s"


def test_traffic_spike_by_request_rate_when_configured() -> None:
    policy = IncidentPolicy(rps_high=50)
    d = diagnose(facts(metrics={"rps": 120}), policy, max_count=10)
    assert d.causes == [Cause.TRAFFIC_HIGH] and d.recommended == Action.SCALE_UP


def test_at_the_maximum_scale_up_is_not_offered() -> None:
    d = diagnose(facts(metrics={"cpu_pct": 91}, machines=4), POLICY, max_count=4)
    assert d.recommended == Action.NONE
    assert "cannot scale up: already at the maximum of 4 machines" in d.rationale


def test_dependency_down_recommends_no_change_even_after_a_deploy() -> None:
    dep = RuleVerdict(app="supabase", rule=RuleName.DEPENDENCY, outcome=Outcome.FAIL,
                      severity=Sev.CRITICAL, detail="supabase: answered 503 (expected 200)")  # fmt: skip
    d = diagnose(
        facts(releases=[release(2, 3000), release(3, 10)], health=503, deps=[dep]),
        POLICY,
        max_count=10,
    )
    assert Cause.DEPENDENCY_DOWN in d.causes and Cause.RECENT_DEPLOY in d.causes
    assert d.recommended == Action.NONE
    assert "a dependency is down" in d.rationale


def test_machine_checks_and_5xx_count_as_health_failing() -> None:
    d = diagnose(facts(check="critical", machines=2), POLICY, max_count=10)
    assert d.evidence[0].detail == "machine checks critical on 2 of 2 machine(s): m0, m1"
    d = diagnose(facts(metrics={"error_rate": 0.2}), POLICY, max_count=10)
    assert d.evidence[0].detail == "5xx ratio 20.0% > 5%"
    assert d.recommended == Action.RESTART


def test_what_could_not_be_read_is_listed_not_assumed_healthy() -> None:
    f = facts().model_copy(
        update={"status": None, "status_error": "flyctl failed", "metrics": None, "health": None}
    )
    d = diagnose(f, POLICY, max_count=10)
    assert d.recommended == Action.NONE
    assert "status: could not read (flyctl failed)" in d.unknowns
    assert "health: not checked" in d.unknowns
    assert any(u.startswith("metrics: could not read") for u in d.unknowns)


def test_scale_up_count() -> None:
    assert scale_up_count(1, scale_up_to=3, max_count=10) == 3
    assert scale_up_count(3, scale_up_to=3, max_count=10) == 4
    assert scale_up_count(2, scale_up_to=3, max_count=2) is None


def past(minutes_ago: float, automatic: bool = True, action: str = "incident.action") -> PastAction:
    return PastAction(at=NOW - timedelta(minutes=minutes_ago), action=action, automatic=automatic)


def test_guardrails_limit_per_hour_then_cooldown() -> None:
    policy = IncidentPolicy(max_auto_actions_per_hour=2, cooldown_minutes=15)
    assert check_guardrails(APP, [past(50)], now=NOW, policy=policy).act
    over = check_guardrails(APP, [past(50), past(40)], now=NOW, policy=policy)
    assert not over.act
    assert over.reason.startswith(f"2 automatic action(s) on {APP} in the last hour (limit 2")
    assert check_guardrails(APP, [past(70), past(65)], now=NOW, policy=policy).act
    cool = check_guardrails(APP, [past(5, automatic=False, action="rollback")], now=NOW,
                            policy=policy)  # fmt: skip
    assert not cool.act
    assert cool.reason.startswith(f"cool-down: {APP} was changed (rollback) 5 min ago")


def test_only_an_allowed_p0_acts_alone() -> None:
    d = diagnose(facts(metrics={"mem_pct": 93}), POLICY, max_count=10)
    allowed = IncidentPolicy(p0_auto_act=[APP])
    kwargs = {"history": [], "now": NOW}
    assert automatic_decision(APP, Severity.P0, d, policy=allowed, **kwargs).act
    p1 = automatic_decision(APP, Severity.P1, d, policy=allowed, **kwargs)
    assert not p1.act and "only P0 may act alone" in p1.reason
    other = automatic_decision("hotdash-production", Severity.P0, d, policy=allowed, **kwargs)
    assert not other.act and "(incident.p0_auto_act)" in other.reason
    assert automatic_decision("x", Severity.P0, d, policy=IncidentPolicy(p0_auto_act=True),
                              **kwargs).act  # fmt: skip
    none = diagnose(facts(), POLICY, max_count=10)
    assert not automatic_decision(APP, Severity.P0, none, policy=allowed, **kwargs).act


def test_action_history_from_the_audit_log(tmp_path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", redactor=Redactor())
    log.append("a", "incident.opened", APP)
    log.append("auto", "incident.action", APP, {"automatic": True})
    log.append("bob", "scale.count", APP, {"count": 3})
    log.append("bob", "restart", "other-app")
    history = action_history(log.records(), APP)
    assert [(h.action, h.automatic) for h in history] == [
        ("incident.action", True),
        ("scale.count", False),
    ]
    assert all(h.at.tzinfo is not None for h in history)


def test_policy_from_the_inventory_and_bad_policies() -> None:
    inventory = load_inventory(ROOT / "deployments/inventory.yaml")
    incident_policy(inventory.incident)
    with pytest.raises(ValueError, match=r"incident\.cooldown_minutes: Input should be greater"):
        incident_policy({"cooldown_minutes": -1})
    with pytest.raises(ValueError, match=r"incident\.p0_autoact: Extra inputs are not permitted"):
        incident_policy({"p0_autoact": True})


def test_assessment_text_names_evidence_and_recommendation() -> None:
    f = facts(releases=[release(2, 3000), release(3, 1440), release(4, 10)], version=4, health=503)
    d = diagnose(f, POLICY, max_count=10)
    text = render_assessment(app=APP, severity=Severity.P1, summary="503s", reported_by="alice",
                             detected_at=NOW, facts=f, diagnosis=d)  # fmt: skip
    assert text.startswith(f"# Incident on {APP}: P1 (respond under 30 minutes)")
    assert "(respond by 12:30 UTC)" in text
    assert "## Recommended: `rollback`" in text
    assert "| v4 (running) | complete | 10 min ago |" in text


def test_status_after_mitigation() -> None:
    assert status_after(True) == ("mitigated, the app has recovered", "monitoring")
    assert status_after(False) == ("NOT recovered, still investigating", "identified")
    assert status_after(None) == ("no change made, still investigating", "identified")
