"""When production may be deployed (runbook, Production Deployment prerequisite "Off-hours
deployment window (if critical)"), in the inventory timezone, pure.

```yaml
deploy:
  # Where a critical deploy may happen. Default: weeknights and the whole weekend.
  off_hours: ["mon-thu 20:00-06:00", "fri 20:00-mon 06:00"]
  # When no production deploy happens at all. Default: none.
  freeze: ["fri 15:00-mon 06:00"]
```

A span is written in one of three ways:

* `fri 15:00-mon 06:00`: from a day and time to a day and time (at most a week later);
* `mon-thu 20:00-06:00` (or `mon,wed 20:00-06:00`, `sat 09:00-17:00`): on each of those
  days from the first time to the second, into the next day when the second is not later;
* `sat-sun` (or `sat`): those whole days.

The rules: a deploy inside a freeze is refused; a `critical` deploy (a risky release: a
schema migration, a breaking change, a major upgrade) outside the off-hours is refused; any
other deploy may go at any time, because the runbook asks for a window only "if critical". A
refused deploy goes ahead with an override reason (`deploy_window_override_reason`), which
is recorded. Times are wall-clock times of the inventory timezone (a 20:00 start is 20:00 in
summer and winter). `now` is an argument so the rules are tested without a clock.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, Field

from hotdash_ops.local_time import shown
from hotdash_ops.operator_input import one_line_or_empty

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_OFF_HOURS = ("mon-thu 20:00-06:00", "fri 20:00-mon 06:00")
MIN_OVERRIDE_REASON = 10  # characters: "hotfix" alone does not say why it cannot wait
_WEEK = 7 * 24 * 60

_DAY = "(?:mon|tue|wed|thu|fri|sat|sun)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00"
_DAYS = rf"{_DAY}(?:-{_DAY})?(?:,{_DAY}(?:-{_DAY})?)*"
_FROM_TO = re.compile(rf"({_DAY}) ({_TIME})-({_DAY}) ({_TIME})")
_DAILY = re.compile(rf"({_DAYS}) ({_TIME})-({_TIME})")
_WHOLE_DAYS = re.compile(rf"({_DAYS})")
_FORMS = "'fri 15:00-mon 06:00', 'mon-thu 20:00-06:00' or 'sat-sun'"


class Span(BaseModel):
    """One weekly span: it starts on weekday `day` (0 = Monday) at `start` (minutes after
    midnight) and lasts `minutes` (wall clock)."""

    text: str  # as written in the inventory
    day: int
    start: int
    minutes: int

    def occurrence(self, on: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The span starting on `on`, as (start, end), or None when it starts on another day."""
        if on.weekday() != self.day:
            return None
        begin = datetime.combine(on, time(0)) + timedelta(minutes=self.start)
        end = begin + timedelta(minutes=self.minutes)
        return begin.replace(tzinfo=zone), end.replace(tzinfo=zone)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        a = WEEKDAYS.index(first)
        b = WEEKDAYS.index(last) if last else a
        days += [(a + i) % 7 for i in range((b - a) % 7 + 1)]
    return sorted(set(days))


def parse_span(text: str) -> list[Span]:
    """The weekly spans `text` stands for (module docstring); ValueError saying the forms."""
    if not isinstance(text, str):
        raise ValueError(f"must be a string like {_FORMS}")
    written = " ".join(text.split()).lower()
    if m := _FROM_TO.fullmatch(written):
        start = WEEKDAYS.index(m[1]) * 1440 + _minutes(m[2])
        end = WEEKDAYS.index(m[3]) * 1440 + _minutes(m[4])
        length = (end - start) % _WEEK or _WEEK
        return [Span(text=written, day=start // 1440, start=start % 1440, minutes=length)]
    if m := _DAILY.fullmatch(written):
        start, end = _minutes(m[2]), _minutes(m[3])
        length = end - start if end > start else end + 1440 - start
        return [Span(text=written, day=d, start=start, minutes=length) for d in _days(m[1])]
    if _WHOLE_DAYS.fullmatch(written):
        return [Span(text=written, day=d, start=0, minutes=1440) for d in _days(written)]
    raise ValueError(f"{text!r} is not a span like {_FORMS}")


class DeployWindows(BaseModel):
    """The off-hours (for critical deploys) and the freezes (for every deploy)."""

    off_hours: list[Span]
    freeze: list[Span] = Field(default_factory=list)


def _spans(raw: Any, field: str) -> list[Span]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise ValueError(f"{field}: must be a list of spans like {_FORMS}")
    spans: list[Span] = []
    for i, item in enumerate(raw):
        try:
            spans += parse_span(item)
        except ValueError as exc:
            raise ValueError(f"{field}.{i}: {exc}") from None
    return spans


def windows_from_deploy_config(deploy: dict[str, Any]) -> DeployWindows:
    """`off_hours` and `freeze` of the inventory's `deploy` section (defaults when absent)."""
    if "window" in deploy:
        raise ValueError(
            "deploy.window: no longer used; a normal deploy has no window: `deploy.off_hours` "
            "says where a critical deploy may go, `deploy.freeze` when nothing is deployed"
        )
    off_hours = deploy.get("off_hours", list(DEFAULT_OFF_HOURS))
    spans = _spans(off_hours, "deploy.off_hours")
    if not spans:
        raise ValueError("deploy.off_hours: at least one span is needed")
    return DeployWindows(off_hours=spans, freeze=_spans(deploy.get("freeze", []), "deploy.freeze"))


def clean_override_reason(value: str | None) -> str | None:
    """A window override reason: None when blank; ValueError when too short to say why."""
    try:
        reason = one_line_or_empty(value or "") or None
    except ValueError as exc:
        raise ValueError(f"deploy_window_override_reason: {exc}") from None
    if reason is not None and len(reason) < MIN_OVERRIDE_REASON:
        raise ValueError(
            "deploy_window_override_reason: say why the deploy cannot wait for the window "
            f"(at least {MIN_OVERRIDE_REASON} characters)"
        )
    return reason


# A flow parameter: the UI form and Prefect refuse a too short reason before the run starts.
OverrideReason = Annotated[
    str | None,
    Field(
        description="deploy in a freeze, or a critical deploy outside the off-hours, and why",
        max_length=500,
    ),
    AfterValidator(clean_override_reason),
]


class WindowCheck(BaseModel):
    """Whether a deploy may go ahead now, and the sentence that says why."""

    allowed: bool
    critical: bool
    in_freeze: bool
    in_off_hours: bool
    overridden: bool = False
    override_reason: str | None = None
    local_time: datetime
    message: str


def _around(spans: list[Span], zone: ZoneInfo, local: datetime) -> list[tuple[datetime, datetime]]:
    """Every occurrence of the spans that starts within a week of `local`."""
    found = []
    for offset in range(-8, 9):
        day = local.date() + timedelta(days=offset)
        found += [o for s in spans if (o := s.occurrence(day, zone))]
    return sorted(found)


def _stamp(when: datetime) -> str:
    return shown(when, when.tzinfo or UTC, weekday=True)


def _texts(spans: list[Span]) -> str:
    return ", ".join(dict.fromkeys(s.text for s in spans))


def check_window(
    windows: DeployWindows,
    tz: str,
    *,
    critical: bool,
    now: datetime | None = None,
    override_reason: str | None = None,
) -> WindowCheck:
    """The rules of the module docstring at `now` (a blank override reason counts as none,
    a too short one is refused)."""
    zone = ZoneInfo(tz)
    local = (now or datetime.now(UTC)).astimezone(zone)
    reason = clean_override_reason(override_reason)
    freezes = [o for o in _around(windows.freeze, zone, local) if o[0] <= local < o[1]]
    off = _around(windows.off_hours, zone, local)
    in_off_hours = any(start <= local < end for start, end in off)
    kind = "a critical deploy" if critical else "a normal deploy"
    it_is = f"it is {_stamp(local)}"
    problems = []
    if freezes:
        until = max(end for _, end in freezes)
        problems.append(
            f"production deploys are frozen ({_texts(windows.freeze)} {tz}) until {_stamp(until)}"
        )
    if critical and not in_off_hours:
        opens = next((start for start, _ in off if start > local), None)
        when = _stamp(opens) if opens else "never"
        problems.append(
            f"{kind} may go only in the off-hours window ({_texts(windows.off_hours)} {tz}), "
            f"which opens {when}"
        )
    facts = dict(critical=critical, in_freeze=bool(freezes), in_off_hours=in_off_hours)
    if not problems:
        rule = (
            f"inside the off-hours window ({_texts(windows.off_hours)} {tz})"
            if critical
            else "no deploy window applies (only critical deploys wait for the off-hours)"
        )
        frozen = f"; no freeze now ({_texts(windows.freeze)})" if windows.freeze else ""
        return WindowCheck(
            allowed=True, local_time=local, message=f"{kind}: {rule}{frozen}; {it_is}.", **facts
        )
    said = "; ".join(problems)
    if reason is not None:
        return WindowCheck(
            allowed=True,
            overridden=True,
            override_reason=reason,
            local_time=local,
            message=f"{said}; {it_is}; overridden: {reason}",
            **facts,
        )
    return WindowCheck(
        allowed=False,
        local_time=local,
        message=f"{said}; {it_is}. To deploy now anyway, give deploy_window_override_reason.",
        **facts,
    )
