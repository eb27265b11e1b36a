"""Incident Response / Severity Levels (runbook), pure: the three levels, their response
targets, and which level an alert's incident gets (the inventory's `incident.severity`).

Runbook table:

* P0 Critical (response: immediate): production down, data loss, security breach, revenue;
* P1 High (< 30 min): staging down, performance degradation, feature broken, integration failure;
* P2 Medium (< 2 hours): non-critical bug, monitoring alert, cost spike.

What fired decides: a critical alert (health failing, no started machine, a critical check,
5xx over the critical ratio) means the app is down; a warning (CPU, memory, response time,
5xx over the warning ratio, a check warning) means degraded. Where decides the rest:

============ ====== ==========
environment  down   degraded
============ ====== ==========
production   P0     P1          (performance degradation on production)
staging      P1     P2          (staging down; a monitoring alert)
other apps   P1     P2          (a feature or integration broken; a monitoring alert)
============ ====== ==========

and a cost spike is P2. All of it can be changed in the inventory (`incident.severity`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    """The runbook's severity levels."""

    P0 = "P0"  # production down, data loss, security breach, revenue impact
    P1 = "P1"  # staging down, performance degradation, feature broken, integration failure
    P2 = "P2"  # non-critical bug, monitoring alert, cost spike


RESPONSE_TARGETS: dict[Severity, timedelta] = {
    Severity.P0: timedelta(0),
    Severity.P1: timedelta(minutes=30),
    Severity.P2: timedelta(hours=2),
}
RESPONSE_TEXT: dict[Severity, str] = {
    Severity.P0: "immediate",
    Severity.P1: "under 30 minutes",
    Severity.P2: "under 2 hours",
}


def respond_by(severity: Severity, detected_at: datetime) -> datetime:
    """When a person must have responded (P0: at once, i.e. the detection time)."""
    return detected_at + RESPONSE_TARGETS[severity]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Levels(_Strict):
    """The severity of an app's incident when it is down, and when it is degraded."""

    down: Severity
    degraded: Severity


def _default_environments() -> dict[str, Levels]:
    return {
        "production": Levels(down=Severity.P0, degraded=Severity.P1),
        "staging": Levels(down=Severity.P1, degraded=Severity.P2),
    }


class SeverityMap(_Strict):
    """The inventory's `incident.severity`: the runbook table above, by environment."""

    environments: dict[str, Levels] = Field(default_factory=_default_environments)
    default: Levels = Field(default_factory=lambda: Levels(down=Severity.P1, degraded=Severity.P2))
    cost_spike: Severity = Severity.P2

    def for_alert(
        self, environment: str | None, alert_severity: Literal["warning", "critical"]
    ) -> Severity:
        """The incident severity of an alert of `alert_severity` on an app of `environment`
        (None: an app of no environment)."""
        levels = self.environments.get(environment or "", self.default)
        return levels.down if alert_severity == "critical" else levels.degraded
