"""Verdicts in the words the reports use (runbook: Daily Operations, Manual Health Checks).

The reports' tables are here too: the short table of what is wrong a report leads with
(`wrong_table`) and the rows of the monitor's table of every figure (`table_row`).

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

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from enum import StrEnum

from hotdash_ops.local_time import shown, zone_name
from hotdash_ops.monitor.alert_rules import (
    APP_RULES,
    AppEvaluation,
    Outcome,
    RuleName,
    RuleVerdict,
    Severity,
)


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


# How a verdict is written in a report (capitals: a person must act).
WORD: dict[Verdict, str] = {
    Verdict.OK: "ok",
    Verdict.NO_TRAFFIC: "no traffic",
    Verdict.WARN: "WARNING",
    Verdict.FAIL: "FAILING",
    Verdict.UNKNOWN: "UNKNOWN",
}
# What a person must look at; no traffic is said apart, it is not wrong.
WRONG = (Verdict.FAIL, Verdict.UNKNOWN, Verdict.WARN)


def wrong(apps: Iterable[AppEvaluation], dependencies: Iterable[RuleVerdict]) -> list[RuleVerdict]:
    """Every check that failed, warned or could not be made, worst first."""
    rules = [*(v for e in apps for v in e.verdicts), *dependencies]
    bad = [v for v in rules if verdict_of(v) in WRONG]
    return sorted(bad, key=lambda v: -SEVERITY[verdict_of(v)])


def verdict_lines(
    title: str,
    summary: str,
    apps: Sequence[AppEvaluation],
    dependencies: Sequence[RuleVerdict],
    *,
    at: datetime,
    tz: str | tzinfo,
    alerts: Callable[[str], str] | None = None,
) -> list[str]:
    """How a report starts: its verdict in the title and in one line (`summary`), when it was
    checked (in the inventory's timezone, named), then the short table of what is wrong."""
    word = WORD[overall(apps, dependencies)]
    rules = wrong(apps, dependencies)
    return [
        f"# {title}: {word}",
        "",
        f"**{word}: {summary}**",
        "",
        f"Checked {shown(at, tz)} (times in {zone_name(tz)}).",
        "",
        *wrong_table(rules, alerts=alerts),
    ]


def wrong_table(
    rules: Sequence[RuleVerdict], *, alerts: Callable[[str], str] | None = None
) -> list[str]:
    """The short table a report leads with: one row per thing that is wrong (`alerts`: an
    app's alerts cell, for the monitor); "Nothing is wrong." when nothing is."""
    if not rules:
        return ["Nothing is wrong."]
    head = "| app | verdict | what is wrong |" + (" alerts |" if alerts else "")
    lines = [head, "|---|---|---|" + ("---|" if alerts else "")]
    for v in rules:
        row = f"| {v.app} | **{WORD[verdict_of(v)]}** | {cell(v.detail)} |"
        lines.append(row + (f" {cell(alerts(v.app)) or 'none'} |" if alerts else ""))
    return lines


def _num(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def table_row(evaluation: AppEvaluation, alerts: str | None = None) -> dict[str, object]:
    """One row of the run's metrics table, what a person reads first on the left: the app,
    its verdict (the worst rule's), its alerts (`alerts`, the monitor's), each rule's verdict,
    then the figures."""
    f = evaluation.figures
    machines = (
        ", ".join(f"{n} {s}" for s, n in sorted(f.machines_by_state.items()))
        if f.machines_by_state is not None
        else "no data"
    )
    checks = (
        "{passing}/{warning}/{critical}".format(**f.machine_checks)
        if f.machine_checks is not None
        else "no data"
    )
    row: dict[str, object] = {"app": f.app, "verdict": WORD[app_verdict(evaluation)]}
    if alerts is not None:
        row["alerts"] = alerts
    for v in evaluation.verdicts:
        row[v.rule.value] = v.cell()
    row |= {
        "role": f.role,
        "machine states": machines,
        "checks p/w/c": checks,
        "health status": (
            str(f.health_status)
            if f.health_status is not None
            else "not requested"
            if f.health_skipped
            else "no answer"
        ),
        "health ms": _num(f.health_latency_ms, 0),
        "cpu %": _num(f.cpu_pct),
        "mem %": _num(f.mem_pct),
        "p95 ms": _num(f.p95_ms, 0),
        "5xx %": _num(None if f.error_rate is None else f.error_rate * 100, 2),
        "rps": _num(f.rps, 2),
    }
    return row


def dependency_row(verdict: RuleVerdict, alerts: str | None = None) -> dict[str, object]:
    """A dependency's row in the apps' table: the same columns (a table has one header), its
    one rule's verdict in `health`, the other figures and rules empty."""
    row: dict[str, object] = {"app": verdict.app, "verdict": WORD[verdict_of(verdict)]}
    if alerts is not None:
        row["alerts"] = alerts
    for rule in APP_RULES:
        row[rule.value] = ""
    row[RuleName.HEALTH.value] = verdict.cell()
    row |= {
        "role": "dependency",
        "machine states": "",
        "checks p/w/c": "",
        "health status": "no answer" if verdict.value is None else str(int(verdict.value)),
        "health ms": None,
        "cpu %": None,
        "mem %": None,
        "p95 ms": None,
        "5xx %": None,
        "rps": None,
    }
    return row


def cell(text: str) -> str:
    """Text kept inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")
