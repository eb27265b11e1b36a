"""Alert hygiene: the per-(app, rule) state machine, its file store, the messages people get,
and the stale-run rule (hotdash_ops.monitor.alert_state, alert_messages, alert_response, stale_runs)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotdash_ops.monitor.alert_messages import compose
from hotdash_ops.monitor.alert_response import RESPONSES, response_for
from hotdash_ops.monitor.alert_rules import Outcome, RuleName, RuleVerdict, Severity
from hotdash_ops.monitor.alert_state import (
    AlertBook,
    AlertPolicy,
    AlertPolicyError,
    AlertStateError,
    AlertStatus,
    AlertStore,
    AlertTransition,
    NoticeKind,
    RuleOverride,
    advance,
    load_alert_policy,
    mark_delivered,
)
from hotdash_ops.monitor.stale_runs import stale_reason

T0 = datetime(2025, 10, 14, 9, 0, tzinfo=UTC)
APP = "hotdash-staging"


def at(run: int) -> datetime:
    """The time of the n-th 15-minute monitor run."""
    return T0 + timedelta(minutes=15 * run)


def v(
    outcome: Outcome,
    rule: RuleName = RuleName.CPU,
    app: str = APP,
    severity: Severity = Severity.WARNING,
) -> RuleVerdict:
    detail = {Outcome.PASS: "cpu: 40.0 % <= 80 %", Outcome.FAIL: "cpu: 92.0 % > 80 %"}.get(
        outcome, "cpu: no data (Prometheus returned no series for the app)"
    )
    return RuleVerdict(app=app, rule=rule, outcome=outcome, severity=severity, detail=detail)


FAIL, PASS, NO_DATA = Outcome.FAIL, Outcome.PASS, Outcome.NO_DATA


class Run:
    """Drives the state machine like the monitor does: advance, deliver (or not), mark."""

    def __init__(self, policy: AlertPolicy | None = None) -> None:
        self.book = AlertBook()
        self.policy = policy or AlertPolicy()
        self.n = 0

    def __call__(
        self,
        *verdicts: RuleVerdict,
        held: set[str] | None = None,
        deliver: bool = True,
        now: datetime | None = None,
    ) -> AlertTransition:
        self.n += 1
        when = now or at(self.n)
        t = advance(self.book, verdicts, when, held_apps=held or set(), policy=self.policy)
        self.book = mark_delivered(t.book, t.notices, when) if deliver else t.book
        return t


def kinds(t: AlertTransition) -> list[NoticeKind]:
    return [n.kind for n in t.notices]


def test_fires_on_second_failing_run_once_then_resolves_once() -> None:
    run = Run()
    first = run(v(FAIL))
    assert first.notices == []
    assert run.book.alerts[f"{APP}/cpu"].status == AlertStatus.PENDING
    second = run(v(FAIL))
    assert kinds(second) == [NoticeKind.FIRING]
    assert second.notices[0].detail == "cpu: 92.0 % > 80 %"
    assert run(v(FAIL)).notices == []
    resolved = run(v(PASS))
    assert kinds(resolved) == [NoticeKind.RESOLVED]
    assert resolved.notices[0].resolution == "cpu: 40.0 % <= 80 %"
    assert resolved.notices[0].announced is True
    assert run.book.alerts == {}
    assert run(v(PASS)).notices == []


def test_failures_must_be_consecutive() -> None:
    run = Run()
    for outcome in (FAIL, PASS, FAIL, PASS, FAIL):
        assert run(v(outcome)).notices == []
    assert kinds(run(v(FAIL))) == [NoticeKind.FIRING]


def test_fire_after_is_per_rule() -> None:
    policy = AlertPolicy(rules={RuleName.CPU: RuleOverride(fire_after=3)})
    run = Run(policy)
    mem = RuleName.MEMORY
    assert run(v(FAIL), v(FAIL, mem)).notices == []
    assert [n.rule for n in run(v(FAIL), v(FAIL, mem)).notices] == [mem]
    assert [n.rule for n in run(v(FAIL), v(FAIL, mem)).notices] == [RuleName.CPU]


def test_fire_after_one_fires_at_once() -> None:
    run = Run(AlertPolicy(fire_after=1))
    assert kinds(run(v(FAIL))) == [NoticeKind.FIRING]


def test_resolve_after_two_passing_runs() -> None:
    run = Run(AlertPolicy(resolve_after=2))
    run(v(FAIL))
    run(v(FAIL))
    assert run(v(PASS)).notices == []
    assert run.book.alerts[f"{APP}/cpu"].status == AlertStatus.FIRING
    assert run(v(FAIL)).notices == []  # a failure in between restarts the count
    assert run(v(PASS)).notices == []
    assert kinds(run(v(PASS))) == [NoticeKind.RESOLVED]


def test_reminder_after_the_configured_time_not_before() -> None:
    run = Run(AlertPolicy(remind_after_minutes=60))
    run(v(FAIL))
    run(v(FAIL))  # fired and announced at run 2
    for _ in range(3):  # runs 3-5: 45 minutes after the announcement
        assert run(v(FAIL)).notices == []
    assert kinds(run(v(FAIL))) == [NoticeKind.REMINDER]  # run 6: 60 minutes
    assert run(v(FAIL)).notices == []  # the reminder restarts the clock


def test_no_reminders_when_disabled() -> None:
    run = Run(AlertPolicy(remind_after_minutes=None))
    run(v(FAIL))
    run(v(FAIL))
    assert run(v(FAIL), now=at(2) + timedelta(days=3)).notices == []


def test_undelivered_notice_is_due_again_next_run() -> None:
    run = Run()
    run(v(FAIL))
    assert kinds(run(v(FAIL), deliver=False)) == [NoticeKind.FIRING]
    assert run.book.alerts[f"{APP}/cpu"].announced_rank is None
    assert kinds(run(v(FAIL))) == [NoticeKind.FIRING]
    assert run(v(FAIL)).notices == []


def test_undelivered_resolved_notice_stays_until_delivered() -> None:
    run = Run()
    run(v(FAIL))
    run(v(FAIL))
    assert kinds(run(v(PASS), deliver=False)) == [NoticeKind.RESOLVED]
    assert run.book.alerts[f"{APP}/cpu"].status == AlertStatus.RESOLVED
    assert kinds(run(v(PASS))) == [NoticeKind.RESOLVED]
    assert run.book.alerts == {}


def test_failing_again_before_the_resolved_notice_went_out_keeps_firing_quietly() -> None:
    run = Run()
    run(v(FAIL))
    run(v(FAIL))
    run(v(PASS), deliver=False)
    again = run(v(FAIL))
    assert again.notices == []  # people were told it fires and never that it stopped
    assert run.book.alerts[f"{APP}/cpu"].status == AlertStatus.FIRING


def test_held_app_advances_but_sends_nothing_until_released() -> None:
    run = Run()
    held = {APP}
    assert run(v(FAIL), held=held).notices == []
    second = run(v(FAIL), held=held)
    assert second.notices == []
    entry = run.book.alerts[f"{APP}/cpu"]
    assert (entry.status, entry.held, entry.announced_rank) == (AlertStatus.FIRING, True, None)
    released = run(v(FAIL))
    assert kinds(released) == [NoticeKind.FIRING]
    assert run.book.alerts[f"{APP}/cpu"].held is False


def test_alert_that_fired_and_resolved_during_a_deploy_is_reported_once_after() -> None:
    run = Run()
    held = {APP}
    run(v(FAIL), held=held)
    run(v(FAIL), held=held)
    assert run(v(PASS), held=held).notices == []
    after = run(v(PASS))
    assert kinds(after) == [NoticeKind.RESOLVED]
    assert after.notices[0].announced is False
    [message] = compose(after.notices)
    assert "not announced while it fired" in message.body


def test_hold_of_one_app_does_not_hold_another() -> None:
    run = Run(AlertPolicy(fire_after=1))
    t = run(v(FAIL), v(FAIL, app="hotdash-production"), held={APP})
    assert [n.app for n in t.notices] == ["hotdash-production"]


def test_no_data_is_its_own_alert_and_worsening_is_announced() -> None:
    run = Run()
    run(v(NO_DATA))
    fired = run(v(NO_DATA))
    assert kinds(fired) == [NoticeKind.FIRING]
    assert fired.notices[0].condition == "no_data"
    [message] = compose(fired.notices)
    assert message.subject.startswith("[NO DATA] hotdash-staging: CPU high: no data")
    assert "NOT known to be healthy" in message.body
    worse = run(v(FAIL))
    assert kinds(worse) == [NoticeKind.ESCALATED]
    critical = run(v(FAIL, RuleName.CPU, severity=Severity.CRITICAL))
    assert kinds(critical) == [NoticeKind.ESCALATED]
    # Getting better (critical -> warning -> no data) is not news until it resolves.
    assert run(v(FAIL)).notices == []
    assert run(v(NO_DATA)).notices == []
    assert run(v(FAIL, severity=Severity.CRITICAL)).notices == []
    assert kinds(run(v(PASS))) == [NoticeKind.RESOLVED]


def test_no_data_never_resolves_an_alert() -> None:
    run = Run()
    run(v(FAIL))
    run(v(FAIL))
    for _ in range(5):
        run(v(NO_DATA))
    assert run.book.alerts[f"{APP}/cpu"].status == AlertStatus.FIRING


def test_critical_alert_emits_fired_once_and_resolved_once() -> None:
    run = Run()
    health = RuleName.HEALTH
    assert run(v(FAIL, health, severity=Severity.CRITICAL)).events == []
    fired = run(v(FAIL, health, severity=Severity.CRITICAL))
    assert [(e.name, e.app, e.rule, e.severity) for e in fired.events] == [
        ("hotdash.alert.fired", APP, health, Severity.CRITICAL)
    ]
    assert run(v(FAIL, health, severity=Severity.CRITICAL), deliver=False).events == []
    resolved = run(v(PASS, health), deliver=False)
    assert [e.name for e in resolved.events] == ["hotdash.alert.resolved"]
    assert run(v(PASS, health)).events == []  # resolved notice retried, event not repeated


def test_fired_events_once_per_level_never_for_no_data_or_dependencies() -> None:
    run = Run(AlertPolicy(fire_after=1))
    # A warning is an incident too (degraded: P2, or P1 on production): one event.
    [warn] = run(v(FAIL)).events
    assert (warn.name, warn.rule, warn.severity) == ("hotdash.alert.fired", RuleName.CPU, "warning")
    assert run(v(FAIL)).events == []  # still the same: nothing new
    # The same rule turning critical (5xx over the critical ratio) is news: a second event.
    rate = v(FAIL, RuleName.ERROR_RATE)
    assert [e.severity for e in run(v(FAIL), rate).events] == ["warning"]
    crit = v(FAIL, RuleName.ERROR_RATE, severity=Severity.CRITICAL)
    assert run(v(FAIL), crit, held={APP}).events == []  # held: waits for the lock
    [worse] = run(v(FAIL), crit).events
    assert (worse.rule, worse.severity) == (RuleName.ERROR_RATE, "critical")
    assert run(v(FAIL), crit).events == []
    # "No data" is not an app's incident; a dependency down is not one app's incident.
    assert run(v(NO_DATA, RuleName.MEMORY)).events == []
    dep = RuleVerdict(app="supabase", rule=RuleName.DEPENDENCY, outcome=FAIL,
                      severity=Severity.CRITICAL, detail="supabase: answered 503")  # fmt: skip
    t = run(dep)
    assert t.events == [] and kinds(t) == [NoticeKind.FIRING]
    # Resolving the ones that had an event says so once.
    done = run(v(PASS), v(PASS, RuleName.ERROR_RATE))
    assert sorted((e.name, e.rule) for e in done.events) == [
        ("hotdash.alert.resolved", RuleName.CPU),
        ("hotdash.alert.resolved", RuleName.ERROR_RATE),
    ]


def test_changes_record_fired_worse_and_resolved_for_the_history() -> None:
    run = Run()
    assert run(v(FAIL)).changes == []  # pending is not news
    [fired] = run(v(FAIL)).changes
    assert (fired.change, fired.key, fired.at) == ("fired", f"{APP}/cpu", at(2))
    crit = v(FAIL, severity=Severity.CRITICAL)
    assert [c.change for c in run(crit).changes] == ["worse"]
    assert run(crit).changes == []
    [resolved] = run(v(PASS)).changes
    assert resolved.change == "resolved" and resolved.detail == "cpu: 40.0 % <= 80 %"


def test_a_silence_holds_notices_and_events_shows_until_and_expiry_sends() -> None:
    until = at(4)
    run = Run(AlertPolicy(fire_after=1))
    crit = v(FAIL, RuleName.HEALTH, severity=Severity.CRITICAL)
    t = advance(run.book, [crit], at(1), silenced={APP: until}, policy=run.policy)
    assert t.notices == [] and t.events == []
    entry = t.book.alerts[f"{APP}/health"]
    assert entry.status == AlertStatus.FIRING and entry.silenced_until == until
    assert entry.label() == "health firing (critical) silenced until 2025-10-14 10:00 UTC"
    # Recorded all the same, with the silence it fired under.
    [change] = t.changes
    assert change.change == "fired" and change.silenced_until == until
    run.book = mark_delivered(t.book, t.notices, at(1))
    # The silence is over (or expired): the still-firing alert goes out, and its event.
    after = advance(run.book, [crit], at(5), policy=run.policy)
    assert kinds(after) == [NoticeKind.FIRING]
    assert [e.name for e in after.events] == ["hotdash.alert.fired"]
    assert after.book.alerts[f"{APP}/health"].silenced_until is None


def test_whole_fleet_run_drops_alerts_of_apps_no_longer_in_the_inventory() -> None:
    run = Run()
    run(v(FAIL, app="gone-app"))
    t = advance(run.book, [v(PASS)], at(2), fleet=[APP])
    assert t.book.alerts == {}
    kept = advance(run.book, [v(PASS)], at(2))  # a one-app run keeps other apps' alerts
    assert "gone-app/cpu" in kept.book.alerts


def test_advance_does_not_mutate_its_input() -> None:
    run = Run()
    run(v(FAIL))
    before = run.book.model_dump()
    advance(run.book, [v(FAIL)], at(5))
    assert run.book.model_dump() == before


# --- the store -----------------------------------------------------------------------------


def test_store_round_trip_survives_a_new_process_view(tmp_path: Path) -> None:
    run = Run()
    run(v(FAIL))
    run(v(FAIL))
    store = AlertStore(tmp_path / "state" / "alerts.json")
    store.save(run.book)
    again, warning = AlertStore(tmp_path / "state" / "alerts.json").load()
    assert warning is None
    assert again == run.book
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["alerts.json"]
    assert json.loads((tmp_path / "state" / "alerts.json").read_text())["version"] == 1


def test_missing_store_is_an_empty_book(tmp_path: Path) -> None:
    assert AlertStore(tmp_path / "alerts.json").load() == (AlertBook(), None)


def test_unreadable_store_is_set_aside_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    path.write_text('{"version": 1, "alerts": {"x": ')
    book, warning = AlertStore(path).load()
    assert book == AlertBook()
    assert warning is not None and "unreadable state set aside" in warning
    assert not path.exists()
    [aside] = list(tmp_path.glob("alerts.json.unreadable-*"))
    assert aside.read_text().startswith('{"version": 1')


async def test_store_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    first = AlertStore(tmp_path / "alerts.json")
    second = AlertStore(tmp_path / "alerts.json", lock_timeout=0.2)
    async with first.locked():
        with pytest.raises(AlertStateError, match="still locked after 0.2 s"):
            async with second.locked():
                pass
    async with second.locked():  # free again once the first let go
        pass


async def test_store_lock_waits_for_the_holder(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.json", lock_timeout=5)
    order: list[str] = []

    async def holder() -> None:
        async with store.locked():
            order.append("first in")
            await asyncio.sleep(0.3)
            order.append("first out")

    async def waiter() -> None:
        await asyncio.sleep(0.05)
        async with AlertStore(tmp_path / "alerts.json", lock_timeout=5).locked():
            order.append("second in")

    await asyncio.gather(holder(), waiter())
    assert order == ["first in", "first out", "second in"]


# --- the policy ----------------------------------------------------------------------------


def test_policy_from_the_inventory_alerts_section(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        "org: x\napps: []\nalerts:\n  fire_after: 3\n  remind_after_minutes: 30\n"
        "  rules:\n    health: {fire_after: 1}\n"
    )
    policy = load_alert_policy(inv)
    assert policy.fire_after_for(RuleName.CPU) == 3
    assert policy.fire_after_for(RuleName.HEALTH) == 1
    assert policy.resolve_after_for(RuleName.HEALTH) == 1
    assert policy.remind_after_minutes == 30


def test_policy_defaults_without_a_section(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("org: x\napps: []\n")
    assert load_alert_policy(inv) == AlertPolicy()
    assert (AlertPolicy().fire_after, AlertPolicy().resolve_after) == (2, 1)


def test_bad_policy_names_the_field(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("org: x\napps: []\nalerts:\n  rules:\n    cpu: {fire_after: 0}\n")
    with pytest.raises(AlertPolicyError, match=r"alerts\.rules\.cpu\.fire_after: Input should be"):
        load_alert_policy(inv)
    inv.write_text("alerts:\n  rules:\n    disk: {fire_after: 2}\n")
    with pytest.raises(AlertPolicyError, match=r"alerts\.rules\.disk"):
        load_alert_policy(inv)


# --- the messages --------------------------------------------------------------------------


def test_message_carries_runbook_steps_and_flows() -> None:
    run = Run(AlertPolicy(fire_after=1))
    [message] = compose(run(v(FAIL)).notices)
    assert message.subject == "[FIRING warning] hotdash-staging: CPU high (cpu: 92.0 % > 80 %)"
    for step in ("Check logs for errors", "Review traffic patterns", "Scale up if sustained"):
        assert step in message.body
    assert "Flows: scale-app, incident-response" in message.body


def test_one_message_per_app_and_a_digest_when_many_apps() -> None:
    run = Run(AlertPolicy(fire_after=1, digest_over=3))
    t = run(v(FAIL), v(FAIL, RuleName.MEMORY), v(FAIL, app="hotdash-production"))
    messages = compose(t.notices, digest_over=3)
    assert len(messages) == 2
    staging = next(m for m in messages if "hotdash-staging" in m.subject)
    assert "2 alerts (CPU high, Memory high)" in staging.subject
    assert len(staging.notices) == 2
    many = [v(NO_DATA, app=f"app-{i:03d}") for i in range(20)]
    t2 = Run(AlertPolicy(fire_after=1))(*many)
    [digest] = compose(t2.notices, digest_over=3)
    assert digest.subject.startswith("[hotdash-ops] 20 alert notices on 20 apps")
    assert len(digest.notices) == 20
    assert digest.body.count("Response steps:") == 1


def test_critical_messages_go_first() -> None:
    run = Run(AlertPolicy(fire_after=1))
    t = run(v(FAIL, app="a-app"), v(FAIL, RuleName.HEALTH, "z-app", Severity.CRITICAL))
    messages = compose(t.notices)
    assert messages[0].subject.startswith("[FIRING critical] z-app: Health check failure")


def test_every_rule_has_runbook_steps_and_flows() -> None:
    assert set(RESPONSES) == set(RuleName)
    assert response_for(RuleName.HEALTH).steps[-1] == "Rollback if deployment-related"
    assert "rollback" in response_for(RuleName.HEALTH).flows
    assert response_for(RuleName.MEMORY).steps[2].startswith("Restart if necessary")
    assert response_for(RuleName.CPU, no_data=True).title == "No data"


# --- stale runs ----------------------------------------------------------------------------


def test_stale_scheduled_run_is_skipped_with_a_reason() -> None:
    scheduled = T0
    assert stale_reason(scheduled, T0 + timedelta(minutes=10), 10) is None
    reason = stale_reason(scheduled, T0 + timedelta(minutes=95), 10)
    assert reason is not None and reason.startswith("skipped: stale")
    assert "95 min late > 10 min" in reason
    assert stale_reason(scheduled, T0 + timedelta(days=1), 0) is None
    assert stale_reason(None, T0, 10) is None
