"""Alert hygiene for the infrastructure monitor: one small state machine per (app, rule), pure.

Learned from Alertmanager and Gatus:

* an alert FIRES after `fire_after` consecutive runs that did not pass (default 2; per rule);
  before that it is PENDING and nothing is sent (one bad sample is not an incident);
* it RESOLVES after `resolve_after` passing runs (default 1) and a "resolved" notice goes out;
* a firing alert is announced once; a REMINDER follows after `remind_after_minutes` of no
  news (default 240, like Alertmanager's repeat_interval). It is announced again only if it
  gets worse (no data < warning < critical); getting better is not news until it resolves,
  so a figure flapping around a threshold does not page every run;
* "no data" is a condition of its own: it fires and is announced as "no data", never passes;
* while an app's deploy lock is held its notices are HELD BACK: the state still advances,
  nothing is marked sent, and what is due goes out on the first run after the lock is free
  (an alert that fired and resolved during the deploy is reported once, as resolved);
* an app under a SILENCE (planned work, hotdash_ops.monitor.silences) is held back the same
  way, and its alerts are shown as silenced until the silence ends; when it ends, what is
  still firing is sent. A silenced alert is still judged, recorded in the alert history and
  shown in the monitor's table, critical ones included;
* `hotdash.alert.fired` goes out when an alert about an app starts firing as a failure (not
  "no data", not a dependency: those are not an app's incident) and again when it gets worse,
  so a warning that becomes critical can start a response of a higher severity;
* a notice is marked sent only after it was delivered (`mark_delivered`), so an undelivered
  alert is due again on the next run. A resolved notice not yet delivered keeps its entry
  (status RESOLVED); if the rule fails again meanwhile the alert simply keeps firing.

`advance(book, verdicts, now, held_apps, silenced, policy)` ->
`AlertTransition(book, notices, events, changes)`; `mark_delivered(book, notices, now)` -> book.
No I/O, no clock: tests drive them directly. `changes` (fired, worse, resolved) go to the alert
history (hotdash_ops.monitor.alert_history), which the morning health check reads.

Persistence (`AlertStore`, a `hotdash_ops.locked_file.LockedJsonFile`): a JSON file under the
stack's state folder (`HOTDASH_STATE_DIR/alerts.json`), read-modify-written under an
`fcntl.flock` on a lock file beside it and replaced atomically. Why not a Prefect Variable or
block:

* a Variable holds at most 5,000 characters of JSON (prefect.types.MAX_VARIABLE_VALUE_LENGTH);
  a 200-app fleet with a few alerts each outgrows it;
* neither a Variable nor a block has compare-and-set, so two runs (a scheduled tick and a
  manual one) could both send the same alert and overwrite each other's state; a file lock
  held across load, send and save serialises them;
* the state folder already holds the audit log and the notification record, survives
  restarts of the server, worker and machine, and is one folder to back up.

The cost: the monitor's worker must run where the state folder is (one worker host, as the
stack is set up); with workers on several hosts, move this store to a shared database.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from hotdash_ops.inventory import read_inventory_yaml
from hotdash_ops.locked_file import LockedJsonFile, StateFileError
from hotdash_ops.monitor.alert_history import AlertChange, Change
from hotdash_ops.monitor.alert_rules import Outcome, RuleName, RuleVerdict, Severity
from hotdash_ops.validation import field_problems

Condition = Literal["failing", "no_data"]


class RuleOverride(BaseModel):
    """Per-rule hysteresis; unset fields use the policy's defaults."""

    fire_after: int | None = Field(default=None, ge=1, le=100)
    resolve_after: int | None = Field(default=None, ge=1, le=100)


class AlertPolicy(BaseModel):
    """When alerts fire, resolve and remind (the inventory's `alerts:` section)."""

    fire_after: int = Field(default=2, ge=1, le=100, description="failing runs before firing")
    resolve_after: int = Field(default=1, ge=1, le=100, description="passing runs to resolve")
    remind_after_minutes: float | None = Field(
        default=240.0, gt=0, description="re-send a firing alert after this long (None: never)"
    )
    digest_over: int = Field(
        default=10, ge=1, description="more app messages than this in one run -> one digest"
    )
    rules: dict[RuleName, RuleOverride] = Field(default_factory=dict)

    def fire_after_for(self, rule: RuleName) -> int:
        override = self.rules.get(rule)
        return override.fire_after if override and override.fire_after else self.fire_after

    def resolve_after_for(self, rule: RuleName) -> int:
        override = self.rules.get(rule)
        if override and override.resolve_after:
            return override.resolve_after
        return self.resolve_after


class AlertPolicyError(ValueError):
    """The `alerts:` section does not validate (the message names the field)."""


def load_alert_policy(inventory_path: Path) -> AlertPolicy:
    """The `alerts:` section of the inventory file; the defaults when there is none."""
    try:
        raw = read_inventory_yaml(inventory_path) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AlertPolicyError(f"{inventory_path}: cannot read the alert policy ({exc})") from None
    section: Any = raw.get("alerts") if isinstance(raw, dict) else None
    try:
        return AlertPolicy.model_validate(section or {})
    except ValidationError as exc:
        problems = field_problems(exc, "alerts")
        raise AlertPolicyError(f"{inventory_path}: {problems}") from None


class AlertStatus(StrEnum):
    """Where an alert is in its life."""

    PENDING = "pending"  # failing, not yet for `fire_after` runs: nothing sent
    FIRING = "firing"
    RESOLVED = "resolved"  # passed `resolve_after` runs; kept until the notice is delivered


# How bad a condition is; an alert is announced again only when this rises.
def rank_of(condition: Condition, severity: Severity) -> int:
    if condition == "no_data":
        return 0
    return 2 if severity == Severity.CRITICAL else 1


class AlertEntry(BaseModel):
    """The state of one (app, rule)."""

    app: str
    rule: RuleName
    status: AlertStatus
    condition: Condition
    severity: Severity
    detail: str
    value: float | None = None
    limit: float | None = None
    bad_runs: int = 0  # consecutive runs that did not pass
    good_runs: int = 0  # consecutive passing runs since the last bad one
    since: datetime  # first bad run of this episode
    last_seen: datetime  # last run that judged this rule
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None  # the passing verdict that resolved it
    announced_rank: int | None = None  # rank of the last delivered firing notice; None: never
    notified_at: datetime | None = None  # last delivered firing notice or reminder
    event_rank: int | None = None  # rank of the last hotdash.alert.fired; None: none sent
    held: bool = False  # notices held back: the app's deploy lock was held at the last run
    silenced_until: datetime | None = None  # held back by a silence until then (last run)

    @property
    def key(self) -> str:
        return f"{self.app}/{self.rule.value}"

    @property
    def rank(self) -> int:
        return rank_of(self.condition, self.severity)

    def label(self, tz: tzinfo = UTC) -> str:
        """A short cell for the metrics table: `cpu firing (critical)`, `cpu pending`,
        `health firing (critical) silenced until 2025-10-14 14:05 PDT`."""
        if self.status == AlertStatus.FIRING:
            what = "no data" if self.condition == "no_data" else self.severity.value
            text = f"{self.rule.value} firing ({what})"
        else:
            text = f"{self.rule.value} {self.status.value}"
        if self.silenced_until is not None:
            until = self.silenced_until.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
            return f"{text} silenced until {until}"
        held = self.held and self.status != AlertStatus.PENDING  # pending: nothing to hold
        return f"{text} held" if held else text


class AlertBook(BaseModel):
    """Every alert that is pending, firing or awaiting its resolved notice."""

    version: Literal[1] = 1
    updated_at: datetime | None = None
    alerts: dict[str, AlertEntry] = Field(default_factory=dict)

    def for_app(self, app: str) -> list[AlertEntry]:
        return [e for e in self.alerts.values() if e.app == app]


class NoticeKind(StrEnum):
    """What a notice tells people."""

    FIRING = "firing"
    ESCALATED = "escalated"  # already announced; now worse (no data -> failing -> critical)
    REMINDER = "reminder"
    RESOLVED = "resolved"


class AlertNotice(BaseModel):
    """One thing to tell people about one alert; marked sent by `mark_delivered`."""

    key: str
    app: str
    rule: RuleName
    kind: NoticeKind
    condition: Condition
    severity: Severity
    rank: int
    detail: str
    since: datetime
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
    announced: bool = False  # for RESOLVED: whether the firing notice had gone out


class AlertEvent(BaseModel):
    """A Prefect event to emit: `hotdash.alert.fired` (critical) or `hotdash.alert.resolved`."""

    name: Literal["hotdash.alert.fired", "hotdash.alert.resolved"]
    app: str
    rule: RuleName
    severity: Severity
    condition: Condition
    detail: str


class AlertTransition(BaseModel):
    """What one run did to the book, what is due now, and what changed (for the history)."""

    book: AlertBook
    notices: list[AlertNotice]
    events: list[AlertEvent]
    changes: list[AlertChange] = Field(default_factory=list)


def _condition(verdict: RuleVerdict) -> Condition:
    return "no_data" if verdict.outcome == Outcome.NO_DATA else "failing"


def _step(
    entry: AlertEntry | None, verdict: RuleVerdict, now: datetime, policy: AlertPolicy
) -> AlertEntry | None:
    """One rule's verdict applied to its alert; None = no alert (any more). "No traffic" is
    not a problem by itself: it counts as a good run."""
    if not verdict.outcome.alerting:
        if entry is None or entry.status == AlertStatus.PENDING:
            return None  # never fired: forget it quietly
        entry.bad_runs = 0
        entry.good_runs += 1
        entry.last_seen = now
        if entry.status == AlertStatus.FIRING and entry.good_runs >= policy.resolve_after_for(
            verdict.rule
        ):
            entry.status = AlertStatus.RESOLVED
            entry.resolved_at = now
            entry.resolution = verdict.detail
        return entry
    if entry is None:
        entry = AlertEntry(
            app=verdict.app,
            rule=verdict.rule,
            status=AlertStatus.PENDING,
            condition=_condition(verdict),
            severity=verdict.severity,
            detail=verdict.detail,
            since=now,
            last_seen=now,
        )
    entry.bad_runs += 1
    entry.good_runs = 0
    entry.condition = _condition(verdict)
    entry.severity = verdict.severity
    entry.detail = verdict.detail
    entry.value, entry.limit = verdict.value, verdict.limit
    entry.last_seen = now
    if entry.status == AlertStatus.RESOLVED:
        # Its resolved notice never went out: to everyone it is still firing.
        entry.status = AlertStatus.FIRING
        entry.resolved_at = None
        entry.resolution = None
    if entry.status == AlertStatus.PENDING and entry.bad_runs >= policy.fire_after_for(
        verdict.rule
    ):
        entry.status = AlertStatus.FIRING
        entry.fired_at = now
    return entry


def _notice(entry: AlertEntry, kind: NoticeKind) -> AlertNotice:
    return AlertNotice(
        key=entry.key,
        app=entry.app,
        rule=entry.rule,
        kind=kind,
        condition=entry.condition,
        severity=entry.severity,
        rank=entry.rank,
        detail=entry.detail,
        since=entry.since,
        fired_at=entry.fired_at,
        resolved_at=entry.resolved_at,
        resolution=entry.resolution,
        announced=entry.announced_rank is not None,
    )


def _event(entry: AlertEntry, name: Literal["fired", "resolved"]) -> AlertEvent:
    return AlertEvent(
        name="hotdash.alert.fired" if name == "fired" else "hotdash.alert.resolved",
        app=entry.app,
        rule=entry.rule,
        severity=entry.severity,
        condition=entry.condition,
        detail=entry.resolution if name == "resolved" and entry.resolution else entry.detail,
    )


def due_notices(entry: AlertEntry, now: datetime, policy: AlertPolicy) -> list[AlertNotice]:
    """What should be sent about `entry` now (ignoring deploy holds)."""
    if entry.status == AlertStatus.RESOLVED:
        return [_notice(entry, NoticeKind.RESOLVED)]
    if entry.status != AlertStatus.FIRING:
        return []
    if entry.announced_rank is None:
        return [_notice(entry, NoticeKind.FIRING)]
    if entry.rank > entry.announced_rank:
        return [_notice(entry, NoticeKind.ESCALATED)]
    remind = policy.remind_after_minutes
    if remind and entry.notified_at and now - entry.notified_at >= timedelta(minutes=remind):
        return [_notice(entry, NoticeKind.REMINDER)]
    return []


def _change(before: AlertEntry | None, after: AlertEntry) -> Change | None:
    """What one run did to an alert that people would call news."""
    was = before.status if before is not None else None
    if after.status == AlertStatus.FIRING and was in (None, AlertStatus.PENDING):
        return Change.FIRED
    if after.status == AlertStatus.FIRING and was == AlertStatus.RESOLVED:
        return Change.FIRED  # failing again before its resolved notice went out
    if after.status == AlertStatus.RESOLVED and was == AlertStatus.FIRING:
        return Change.RESOLVED
    if after.status == AlertStatus.FIRING and before is not None and after.rank > before.rank:
        return Change.WORSE
    return None


def _starts_incident(entry: AlertEntry) -> bool:
    """An app's failure firing, first or worse than when the last event went out."""
    return (
        entry.status == AlertStatus.FIRING
        and entry.condition == "failing"
        and entry.rule != RuleName.DEPENDENCY
        and (entry.event_rank is None or entry.rank > entry.event_rank)
    )


def advance(
    book: AlertBook,
    verdicts: Iterable[RuleVerdict],
    now: datetime,
    *,
    held_apps: Collection[str] = (),
    silenced: Mapping[str, datetime] | None = None,
    policy: AlertPolicy | None = None,
    fleet: Collection[str] | None = None,
) -> AlertTransition:
    """Apply one run's verdicts; return the new book, the notices and events now due, and
    the changes to record.

    `held_apps`: apps whose deploy lock is held (their notices and events wait).
    `silenced`: app -> end of the silence covering it now (its notices and events wait too).
    `fleet`: when given (a whole-fleet run), alerts of apps no longer in it are dropped.
    """
    policy = policy or AlertPolicy()
    silenced = dict(silenced or {})
    alerts = {k: e.model_copy(deep=True) for k, e in book.alerts.items()}
    if fleet is not None:
        known = set(fleet)
        alerts = {k: e for k, e in alerts.items() if e.app in known}
    changes: list[AlertChange] = []
    for verdict in verdicts:
        before = alerts.get(verdict.key)
        snapshot = before.model_copy() if before is not None else None
        entry = _step(before, verdict, now, policy)
        if entry is None:
            alerts.pop(verdict.key, None)
            continue
        alerts[verdict.key] = entry
        change = _change(snapshot, entry)
        if change is not None:
            changes.append(
                AlertChange(
                    at=now,
                    app=entry.app,
                    rule=entry.rule,
                    change=change,
                    condition=entry.condition,
                    severity=entry.severity,
                    detail=entry.resolution
                    if change == Change.RESOLVED and entry.resolution
                    else entry.detail,
                    silenced_until=silenced.get(entry.app),
                )
            )
    notices: list[AlertNotice] = []
    events: list[AlertEvent] = []
    held = set(held_apps)
    for entry in alerts.values():
        entry.silenced_until = silenced.get(entry.app)
        entry.held = entry.app in held or entry.silenced_until is not None
        if entry.held:
            continue
        notices.extend(due_notices(entry, now, policy))
        # Events are fire-and-forget: marked at once, so an automation never acts twice.
        if _starts_incident(entry):
            events.append(_event(entry, "fired"))
            entry.event_rank = entry.rank
        elif entry.status == AlertStatus.RESOLVED and entry.event_rank is not None:
            events.append(_event(entry, "resolved"))
            entry.event_rank = None
    new_book = AlertBook(updated_at=now, alerts=dict(sorted(alerts.items())))
    return AlertTransition(book=new_book, notices=notices, events=events, changes=changes)


def mark_delivered(book: AlertBook, delivered: Iterable[AlertNotice], now: datetime) -> AlertBook:
    """Record that these notices reached people (call only after delivery succeeded)."""
    alerts = {k: e.model_copy(deep=True) for k, e in book.alerts.items()}
    for notice in delivered:
        entry = alerts.get(notice.key)
        if entry is None:
            continue
        if notice.kind == NoticeKind.RESOLVED:
            if entry.status == AlertStatus.RESOLVED:
                del alerts[notice.key]
            continue
        if notice.kind in (NoticeKind.FIRING, NoticeKind.ESCALATED):
            entry.announced_rank = max(entry.announced_rank or 0, notice.rank)
        entry.notified_at = now
    return AlertBook(updated_at=book.updated_at, alerts=alerts)


class AlertStore(LockedJsonFile[AlertBook]):
    """The alert book in a JSON file, locked with flock and replaced atomically."""

    def __init__(self, path: Path, *, lock_timeout: float = 60.0) -> None:
        super().__init__(path, AlertBook, lock_timeout=lock_timeout)


AlertStateError = StateFileError  # the alert state could not be locked or written
