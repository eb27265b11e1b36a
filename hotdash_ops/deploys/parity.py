"""Environment parity, staging against production (runbook: verify-environment-parity.sh), pure.

| check | ok | info (the deploy goes on) | blocking (the deploy stops) |
| --- | --- | --- | --- |
| region | same regions | overlapping regions | no region in common |
| secrets | same names | a name in one only | |
| required secrets | on both | missing on production | missing on staging |
| guest | same CPU kind, CPUs, memory | different sizes (staging is often smaller) | |
| process groups | same groups and counts | different machine counts | a group in one only |
| current image | same image | different (staging ahead: normal before a promotion) | |
| /health | both answer as expected | either fails or cannot be checked | |

Blocking are only the differences that make staging unlike production in a way no deploy
can fix, so that a deploy tested on staging says nothing about production: a required secret
missing on staging (the app cannot work there), a process group only one environment has
(staging never runs code production will, or the other way round), no region in common
(other latencies, other data locality). Anything a deploy may be the fix for is shown, never
blocking: a failing `/health` on production is the incident a hotfix is for, and staging
being down (runbook P1) is what a staging deploy repairs. A person may still pass a blocking
difference with an override reason (deploy-staging `override_reason`), which is recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from hotdash_ops.models import Machine
from hotdash_ops.monitor.probe import ProbeResult

Severity = Literal["ok", "info", "blocking"]
_ICON = {"ok": "ok", "info": "info", "blocking": "**BLOCKING**"}


class ProcessGroupFacts(BaseModel):
    """One process group: how many machines, what size."""

    count: int
    guest: str  # "shared 1x 512 MB" (mixed sizes are joined with " / ")


class EnvironmentFacts(BaseModel):
    """What parity compares about one environment."""

    environment: str
    app: str
    regions: list[str]
    secrets: list[str]
    process_groups: dict[str, ProcessGroupFacts]
    image: str | None = None
    release_version: int | None = None
    health: ProbeResult | None = None


def _guest_text(machine: Machine) -> str:
    guest = machine.guest
    if guest is None:
        return "unknown"
    return f"{guest.cpu_kind} {guest.cpus}x {guest.memory_mb} MB"


def environment_facts(
    environment: str,
    app: str,
    *,
    machines: Sequence[Machine],
    secrets: Sequence[str],
    health: ProbeResult | None,
) -> EnvironmentFacts:
    """Facts from the app's machines (Machines API), secret names and its /health probe."""
    groups: dict[str, list[Machine]] = {}
    for machine in machines:
        groups.setdefault(machine.process_group or "app", []).append(machine)
    images = Counter(m.image for m in machines if m.image)
    versions = [m.release_version for m in machines if m.release_version is not None]
    return EnvironmentFacts(
        environment=environment,
        app=app,
        regions=sorted({m.region for m in machines}),
        secrets=sorted(set(secrets)),
        process_groups={
            name: ProcessGroupFacts(
                count=len(members),
                guest=" / ".join(sorted({_guest_text(m) for m in members})),
            )
            for name, members in sorted(groups.items())
        },
        image=images.most_common(1)[0][0] if images else None,
        release_version=max(versions) if versions else None,
        health=health,
    )


class ParityItem(BaseModel):
    """One compared fact."""

    check: str
    staging: str
    production: str
    severity: Severity
    note: str


class ParityReport(BaseModel):
    """Every parity item; the deploy stops when any is blocking."""

    staging_app: str = "staging"
    production_app: str = "production"
    items: list[ParityItem]

    @property
    def blocking(self) -> list[ParityItem]:
        """The differences that stop the deploy."""
        return [i for i in self.items if i.severity == "blocking"]

    @property
    def info(self) -> list[ParityItem]:
        """Differences worth knowing that do not stop the deploy."""
        return [i for i in self.items if i.severity == "info"]

    @property
    def unhealthy(self) -> str | None:
        """ "/health failing: production (503)" when either side fails its /health, else None."""
        health = next((i for i in self.items if i.check == "/health"), None)
        if health is None or health.severity == "ok":
            return None
        return f"/health failing: {health.note.removeprefix('unhealthy: ')}"

    def summary(self) -> str:
        """ "parity: 2 blocking (region, required secrets), 1 info" or "parity: ok", with a
        failing /health named: it is shown to everyone, though it blocks nothing."""
        if self.blocking:
            names = ", ".join(i.check for i in self.blocking)
            text = f"parity: {len(self.blocking)} blocking ({names}), {len(self.info)} info"
        elif self.info:
            text = f"parity: no blocking difference, {len(self.info)} info"
        else:
            text = "parity: ok, no difference"
        return f"{text}; {self.unhealthy}" if self.unhealthy else text

    def markdown(self) -> str:
        """The parity report artifact."""
        head = "Deploy stops unless overridden" if self.blocking else "Deploy may go on"
        lines = [
            f"# Environment parity: {self.staging_app} vs {self.production_app}",
            "",
            f"**{head}**: {self.summary()}.",
            "",
            f"| check | {self.staging_app} | {self.production_app} | result | note |",
            "| --- | --- | --- | --- | --- |",
        ]
        for item in self.items:
            cells = [item.check, item.staging, item.production, _ICON[item.severity], item.note]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines) + "\n"


def _names(values: Sequence[str]) -> str:
    return ", ".join(values) if values else "none"


def _region(staging: EnvironmentFacts, production: EnvironmentFacts) -> ParityItem:
    s, p = set(staging.regions), set(production.regions)
    severity: Severity
    if s == p:
        severity, note = "ok", "same regions"
    elif s & p:
        severity, note = "info", "regions overlap but differ"
    else:
        severity, note = "blocking", "no region in common: staging does not test production's"
    return ParityItem(
        check="region",
        staging=_names(staging.regions),
        production=_names(production.regions),
        severity=severity,
        note=note,
    )


def _secrets(staging: EnvironmentFacts, production: EnvironmentFacts) -> ParityItem:
    only_s = sorted(set(staging.secrets) - set(production.secrets))
    only_p = sorted(set(production.secrets) - set(staging.secrets))
    notes = []
    if only_s:
        notes.append(f"only on staging: {', '.join(only_s)}")
    if only_p:
        notes.append(f"only on production: {', '.join(only_p)}")
    return ParityItem(
        check="secret names",
        staging=f"{len(staging.secrets)} secrets",
        production=f"{len(production.secrets)} secrets",
        severity="info" if notes else "ok",
        note="; ".join(notes) or "same names",
    )


def _required(
    staging: EnvironmentFacts, production: EnvironmentFacts, required: Sequence[str]
) -> ParityItem:
    miss_s = [n for n in required if n not in staging.secrets]
    miss_p = [n for n in required if n not in production.secrets]
    notes = []
    if miss_s:
        notes.append(f"missing on staging: {', '.join(miss_s)}")
    if miss_p:
        notes.append(f"missing on production: {', '.join(miss_p)} (set before promoting)")
    severity: Severity = "blocking" if miss_s else "info" if miss_p else "ok"
    return ParityItem(
        check="required secrets",
        staging="missing " + ", ".join(miss_s) if miss_s else "all set",
        production="missing " + ", ".join(miss_p) if miss_p else "all set",
        severity=severity,
        note="; ".join(notes) or f"{_names(list(required))} set on both",
    )


def _groups(staging: EnvironmentFacts, production: EnvironmentFacts) -> list[ParityItem]:
    s, p = staging.process_groups, production.process_groups
    only_s, only_p = sorted(set(s) - set(p)), sorted(set(p) - set(s))
    counts = {n: (s[n].count, p[n].count) for n in sorted(set(s) & set(p))}
    severity: Severity
    if only_s or only_p:
        severity = "blocking"
        parts = [f"only on staging: {', '.join(only_s)}"] if only_s else []
        parts += [f"only on production: {', '.join(only_p)}"] if only_p else []
        note = "; ".join(parts)
    elif any(a != b for a, b in counts.values()):
        severity, note = "info", "same groups, different machine counts"
    else:
        severity, note = "ok", "same groups and counts"
    items = [
        ParityItem(
            check="process groups",
            staging=", ".join(f"{n}×{g.count}" for n, g in s.items()) or "none",
            production=", ".join(f"{n}×{g.count}" for n, g in p.items()) or "none",
            severity=severity,
            note=note,
        )
    ]
    for name in sorted(set(s) & set(p)):
        same = s[name].guest == p[name].guest
        items.append(
            ParityItem(
                check=f"guest ({name})",
                staging=s[name].guest,
                production=p[name].guest,
                severity="ok" if same else "info",
                note="same size" if same else "sizes differ (staging is often smaller)",
            )
        )
    return items


def _image(staging: EnvironmentFacts, production: EnvironmentFacts) -> ParityItem:
    def show(f: EnvironmentFacts) -> str:
        version = f" (v{f.release_version})" if f.release_version is not None else ""
        return (f.image or "unknown") + version

    same = staging.image is not None and staging.image == production.image
    return ParityItem(
        check="current image",
        staging=show(staging),
        production=show(production),
        severity="ok" if same else "info",
        note="same image" if same else "staging ahead of production (normal before a promotion)",
    )


def _health(staging: EnvironmentFacts, production: EnvironmentFacts) -> ParityItem:
    def show(f: EnvironmentFacts) -> tuple[str, bool]:
        h = f.health
        if h is None:
            return "not checked", False
        if h.status is None:
            return f"no answer ({h.error})", False
        text = f"{h.status}" + (f" (expected {h.expected_status})" if not h.status_ok else "")
        if h.latency_ms is not None:
            text += f" in {h.latency_ms:.0f} ms"
        if h.within_budget is False:
            text += f" (budget {h.budget_ms:.0f} ms)"
        return text, h.ok is True

    s_text, s_ok = show(staging)
    p_text, p_ok = show(production)
    bad = [f"{env} ({text})" for env, text, ok in
           (("staging", s_text, s_ok), ("production", p_text, p_ok)) if not ok]  # fmt: skip
    return ParityItem(
        check="/health",
        staging=s_text,
        production=p_text,
        severity="info" if bad else "ok",
        note=f"unhealthy: {', '.join(bad)}" if bad else "both healthy",
    )


def compare_environments(
    staging: EnvironmentFacts, production: EnvironmentFacts, *, required_secrets: list[str]
) -> ParityReport:
    """Compare the two environments (rules in the module docstring)."""
    items = [
        _region(staging, production),
        _secrets(staging, production),
        _required(staging, production, required_secrets),
        *_groups(staging, production),
        _image(staging, production),
        _health(staging, production),
    ]
    return ParityReport(staging_app=staging.app, production_app=production.app, items=items)
