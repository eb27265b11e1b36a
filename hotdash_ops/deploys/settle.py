"""Have an app's machines settled after a deploy or a rollback? (pure)

`fly deploy --strategy immediate` exits once Fly accepted the updates, with the machines still
booting and no health check waited for (superfly/flyctl@ad0172fa
internal/command/deploy/machines_deploymachinesapp.go `updateUsingImmediateStrategy`), and an
updated machine reboots and answers nothing meanwhile (Fly docs, machines API "Update a
Machine"). A smoke test run at once judges a machine that is not up yet. So the smoke test
first waits, bounded, until every machine is settled:

* a machine in a transient state (`starting`, `replacing`, `updating`, `restarting`, ...;
  docs machines/machine-states) is not settled;
* a `started` machine is settled when every check it reports passes, or when a check is
  still failing after the checks' grace period (counted from its last start event): that is
  a verdict, and the smoke test judges it;
* `stopped`, `suspended`, `created` (left alone by `skip_launch`), `failed` and gone machines
  are settled: a deploy does not start them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from hotdash_ops.models import Machine

SETTLED_STATES = frozenset(
    {"started", "stopped", "suspended", "created", "failed", "destroyed", "replaced", "migrated"}
)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str | None) -> float:
    """A fly.Duration (`"5s"`, `"1m30s"`, `"250ms"`) in seconds; 0 for none."""
    if not text:
        return 0.0
    return sum(float(n) * _UNIT[u] for n, u in _DURATION.findall(str(text)))


def grace_seconds(machine: Machine) -> float:
    """The longest `grace_period` of the machine's service checks."""
    config = machine.config or machine.incomplete_config
    longest = 0.0
    for service in config.services if config else []:
        for check in service.checks:
            longest = max(longest, duration_seconds(check.get("grace_period")))
    return longest


def last_start(machine: Machine) -> datetime | None:
    """When the machine last reached `started` (its newest start event)."""
    stamps = [
        e.timestamp
        for e in machine.events
        if e.timestamp is not None and e.type == "start" and e.status == "started"
    ]
    if not stamps:
        return None
    return datetime.fromtimestamp(max(stamps) / 1000, UTC)


def configured_checks(machine: Machine) -> int:
    """Checks the machine's config defines (flyctl counts these, not the reported ones)."""
    config = machine.config or machine.incomplete_config
    return sum(len(s.checks) for s in config.services) if config else 0


class Settling(BaseModel):
    """Where the machines stand: settled or not, which are still on their way, and (once
    waited for) after how long."""

    settled: bool
    waiting: list[str] = Field(default_factory=list)  # "<id> starting", "<id> checks warning"
    failing: list[str] = Field(default_factory=list)  # started, checks failing after grace
    seconds: float = 0.0

    def describe(self) -> str:
        """ "machines settled in 0.4 s" or "machines not settled after 300 s: 3d8.. starting"."""
        if not self.settled:
            return f"machines not settled after {self.seconds:.0f} s: " + ", ".join(self.waiting)
        text = f"machines settled in {self.seconds:.1f} s"
        if self.failing:
            text += "; checks failing on " + ", ".join(self.failing)
        return text


def settling(machines: Sequence[Machine], now: datetime) -> Settling:
    """Judge the machines as they were read at `now` (rules in the module docstring)."""
    waiting: list[str] = []
    failing: list[str] = []
    for m in machines:
        if m.state not in SETTLED_STATES:
            waiting.append(f"{m.id} {m.state}")
            continue
        if m.state != "started":
            continue
        if configured_checks(m) and not m.checks:
            waiting.append(f"{m.id} no check results yet")
            continue
        bad = [c for c in m.checks if c.status != "passing"]
        if not bad:
            continue
        started = last_start(m)
        up = (now - started).total_seconds() if started else 0.0
        statuses = "/".join(sorted({c.status for c in bad}))
        if up > grace_seconds(m) and any(c.status == "critical" for c in bad):
            failing.append(f"{m.id} checks {statuses}")
        else:
            waiting.append(f"{m.id} checks {statuses}")
    return Settling(settled=not waiting, waiting=waiting, failing=failing)
