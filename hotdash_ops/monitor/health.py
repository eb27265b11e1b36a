"""Verdicts in the words the reports use (runbook: Daily Operations, Manual Health Checks).

The rules are not here: every check of an app or a dependency is judged by the one rule engine,
`hotdash_ops.monitor.alert_rules`, whichever flow reads it (the 15-minute monitor, the manual
check, the morning check). This module only names a rule's outcome for a person:

================================ ===========
rule outcome                     verdict
================================ ===========
pass                             ok
no traffic                       no traffic
fail, severity warning           warning
fail, severity critical          failing
no data                          unknown
================================ ===========

An app's verdict is its worst rule's; a fleet's, its worst app's or dependency's. Not knowing
is worse than a warning and better than a known failure; nothing checked is unknown. "No
traffic" (the request query worked and found no requests: no 5xx ratio or p95 to judge) is
never "ok" and never a problem by itself: reports say it apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from hotdash_ops.monitor.alert_rules import AppEvaluation, Outcome, RuleVerdict, Severity


class Verdict(StrEnum):
    """How a check (or an app, or the fleet) stands."""

    OK = "ok"
    NO_TRAFFIC = "no traffic"
    WARN = "warning"
    FAIL = "failing"
    UNKNOWN = "unknown"


# Worst first wins: not knowing is worse than a warning, better than a known failure; no
# traffic is not healthy, but nothing is wrong either.
SEVERITY: dict[Verdict, int] = {
    Verdict.OK: 0,
    Verdict.NO_TRAFFIC: 1,
    Verdict.WARN: 2,
    Verdict.UNKNOWN: 3,
    Verdict.FAIL: 4,
}


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The most severe verdict; UNKNOWN when there is nothing to judge."""
    return max(verdicts, key=SEVERITY.__getitem__, default=Verdict.UNKNOWN)


def verdict_of(rule: RuleVerdict) -> Verdict:
    """One rule's outcome as a report says it (the table in the module docstring)."""
    if rule.outcome == Outcome.PASS:
        return Verdict.OK
    if rule.outcome == Outcome.NO_DATA:
        return Verdict.UNKNOWN
    if rule.outcome == Outcome.NO_TRAFFIC:
        return Verdict.NO_TRAFFIC
    return Verdict.FAIL if rule.severity == Severity.CRITICAL else Verdict.WARN


def app_verdict(evaluation: AppEvaluation) -> Verdict:
    """An app's verdict: its worst rule's."""
    return worst(verdict_of(v) for v in evaluation.verdicts)


def overall(apps: Iterable[AppEvaluation], dependencies: Iterable[RuleVerdict]) -> Verdict:
    """The fleet's verdict: the worst app or dependency; UNKNOWN when nothing was checked."""
    return worst([*(app_verdict(e) for e in apps), *(verdict_of(d) for d in dependencies)])
