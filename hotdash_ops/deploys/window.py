"""When production may be deployed: the inventory's `deploy.window`, in the inventory timezone.

```yaml
deploy:
  window:
    days: [mon, tue, wed, thu, fri]   # default: weekends are blocked
    start: "00:00"                    # default: all day
    end: "24:00"                      # exclusive; start > end is an overnight window
```

An overnight window (`start: "22:00"`, `end: "06:00"`) belongs to the day it opens on:
with `days: [mon]` it runs from Monday 22:00 to Tuesday 06:00. Outside the window a deploy
needs an override reason (`deploy_window_override_reason`), which is recorded. `now` is an
argument so the rules are tested without a clock.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from hotdash_ops.operator_input import one_line_or_empty
from hotdash_ops.validation import field_problems

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_OVERRIDE_REASON = 10  # characters: "hotfix" alone does not say why it cannot wait

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")


class DeployWindow(BaseModel):
    """Allowed weekdays and hours of day."""

    model_config = ConfigDict(extra="forbid")

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: str = "00:00"
    end: str = "24:00"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not isinstance(value, str) or not _HHMM.fullmatch(value):
            raise ValueError(f"{value!r} is not a time HH:MM (00:00 to 24:00)")
        return value

    @field_validator("days")
    @classmethod
    def _some_days(cls, value: list[Weekday]) -> list[Weekday]:
        if not value:
            raise ValueError("at least one day is needed (override a closed window instead)")
        return value

    @property
    def overnight(self) -> bool:
        return _minutes(self.start) > _minutes(self.end)

    def describe(self, tz: str) -> str:
        """`mon-fri 00:00-24:00 America/Los_Angeles`."""
        return f"{_days_text(self.days)} {self.start}-{self.end} {tz}"

    def opens_at(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The window opening on `day` as (start, end), or None when it does not open then."""
        if WEEKDAYS[day.weekday()] not in self.days:
            return None
        start = _at(day, self.start, tz)
        end_day = day + timedelta(days=1) if self.overnight else day
        end = _at(end_day, self.end, tz)
        if end <= start:  # start == end: a whole day
            end = start + timedelta(days=1)
        return start, end


class WindowCheck(BaseModel):
    """Whether a deploy may go ahead now, and the sentence that says why."""

    allowed: bool
    inside: bool
    overridden: bool = False
    override_reason: str | None = None
    local_time: datetime
    next_opening: datetime | None = None
    message: str


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _at(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    # 24:00 is the next midnight; wall-clock times in DST gaps resolve like zoneinfo does.
    wall = datetime.combine(day, time(0)) + timedelta(minutes=_minutes(hhmm))
    return wall.replace(tzinfo=tz)


def _days_text(days: list[Weekday]) -> str:
    idx = sorted(WEEKDAYS.index(d) for d in set(days))
    runs: list[str] = []
    start = prev = idx[0]
    for i in [*idx[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        runs.append(WEEKDAYS[start] if start == prev else f"{WEEKDAYS[start]}-{WEEKDAYS[prev]}")
        if i is not None:
            start = prev = i
    return ",".join(runs)


def window_from_deploy_config(deploy: dict[str, Any]) -> DeployWindow:
    """The `window` of the inventory's `deploy` section (defaults when absent)."""
    raw = deploy.get("window")
    if raw is None:
        return DeployWindow()
    try:
        return DeployWindow.model_validate(raw)
    except ValidationError as exc:
        problems = field_problems(exc, "deploy.window")
        raise ValueError(problems) from None


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
    Field(description="deploy outside the window anyway, and why", max_length=500),
    AfterValidator(clean_override_reason),
]


def check_window(
    window: DeployWindow,
    tz: str,
    *,
    now: datetime | None = None,
    override_reason: str | None = None,
) -> WindowCheck:
    """Inside the window: allowed. Outside: allowed only with an override reason (a blank
    reason counts as none, a too short one is refused, see `override_reason`)."""
    zone = ZoneInfo(tz)
    local = (now or datetime.now(UTC)).astimezone(zone)
    reason = clean_override_reason(override_reason)
    inside = _inside(window, zone, local)
    described = window.describe(tz)
    stamp = local.strftime("%a %Y-%m-%d %H:%M %Z")
    if inside:
        return WindowCheck(
            allowed=True,
            inside=True,
            local_time=local,
            message=f"inside the deploy window ({described}); it is {stamp}.",
        )
    opening = next_opening(window, zone, local)
    when = opening.strftime("%a %Y-%m-%d %H:%M %Z") if opening else "never"
    if reason is not None:
        return WindowCheck(
            allowed=True,
            inside=False,
            overridden=True,
            override_reason=reason,
            local_time=local,
            next_opening=opening,
            message=(
                f"outside the deploy window ({described}; it is {stamp}), overridden: {reason}"
            ),
        )
    return WindowCheck(
        allowed=False,
        inside=False,
        local_time=local,
        next_opening=opening,
        message=(
            f"production deploys are allowed {described}; it is {stamp}. The window opens "
            f"{when}. To deploy now anyway, give deploy_window_override_reason."
        ),
    )


def _inside(window: DeployWindow, zone: ZoneInfo, local: datetime) -> bool:
    # Today's window, or yesterday's overnight window still open.
    for day in (local.date() - timedelta(days=1), local.date()):
        span = window.opens_at(day, zone)
        if span and span[0] <= local < span[1]:
            return True
    return False


def next_opening(window: DeployWindow, zone: ZoneInfo, local: datetime) -> datetime | None:
    """The next time the window opens after `local` (within a week)."""
    for offset in range(0, 8):
        span = window.opens_at(local.date() + timedelta(days=offset), zone)
        if span and span[0] > local:
            return span[0]
    return None
