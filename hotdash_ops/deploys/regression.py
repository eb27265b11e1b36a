"""The post-deploy watch: is production worse than before the deploy, and for long enough?

Runbook, Production Deployment, Post-Deployment: "Monitor for 15 minutes, check error rates".
Before the deploy a baseline is taken (5xx ratio and p95 over the last 15 minutes, one
`/health` probe); after it, a sample every interval. A sample is *bad* when any figure is
clearly worse than the baseline:

* 5xx ratio above max(baseline x `error_rate_factor`, baseline + `error_rate_margin`);
* p95 above max(baseline x `p95_factor`, baseline + `p95_margin_ms`);
* `/health` not answering its expected status while it did before the deploy.

A figure without data (no traffic, Prometheus down) is not judged; a sample with nothing
judged is *unknown* and neither extends nor breaks a run of bad samples. A regression is
`sustained_samples` (default 3) bad samples in a row: one bad scrape is not a rollback.
Rules come from the inventory's `deploy.watch` (all optional).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotdash_ops.validation import field_problems


class WatchRules(BaseModel):
    """How much worse is bad, and for how many samples in a row."""

    model_config = ConfigDict(extra="forbid")

    sustained_samples: int = Field(default=3, ge=2, le=100)
    error_rate_factor: float = Field(default=2.0, ge=1.0)
    error_rate_margin: float = Field(default=0.01, gt=0, le=1)
    p95_factor: float = Field(default=1.5, ge=1.0)
    p95_margin_ms: float = Field(default=250.0, gt=0)


class Figures(BaseModel):
    """One look at production: 5xx ratio, p95 latency and `/health` (None = no data)."""

    at: datetime
    error_rate: float | None = None
    p95_ms: float | None = None
    health_status: int | None = None
    health_expected: int = 200
    health_error: str | None = None

    @property
    def health_ok(self) -> bool:
        return self.health_status == self.health_expected

    def describe(self) -> str:
        """`5xx 0.1 %, p95 320 ms, /health 200`."""
        er = "no data" if self.error_rate is None else f"{self.error_rate * 100:.1f} %"
        p95 = "no data" if self.p95_ms is None else f"{self.p95_ms:.0f} ms"
        health = str(self.health_status) if self.health_status is not None else "no answer"
        return f"5xx {er}, p95 {p95}, /health {health}"


class SampleAssessment(BaseModel):
    """A sample judged against the baseline."""

    figures: Figures
    bad: bool
    unknown: bool
    reasons: list[str] = Field(default_factory=list)


class WatchOutcome(BaseModel):
    """The watch so far: the samples judged, the current run of bad ones, and the verdict."""

    assessments: list[SampleAssessment]
    streak: int
    regressed: bool
    reason: str


def rules_from_deploy_config(deploy: dict[str, Any]) -> WatchRules:
    """The `watch` of the inventory's `deploy` section (defaults when absent)."""
    try:
        return WatchRules.model_validate(deploy.get("watch") or {})
    except ValidationError as exc:
        problems = field_problems(exc, "deploy.watch")
        raise ValueError(problems) from None


def assess(baseline: Figures, sample: Figures, rules: WatchRules) -> SampleAssessment:
    """Judge one sample (module docstring)."""
    reasons: list[str] = []
    judged = 0
    if sample.error_rate is not None:
        judged += 1
        base = baseline.error_rate or 0.0
        limit = max(base * rules.error_rate_factor, base + rules.error_rate_margin)
        if sample.error_rate > limit:
            reasons.append(
                f"5xx {sample.error_rate * 100:.1f} % (baseline {base * 100:.1f} %, "
                f"limit {limit * 100:.1f} %)"
            )
    if sample.p95_ms is not None and baseline.p95_ms is not None:
        judged += 1
        limit = max(baseline.p95_ms * rules.p95_factor, baseline.p95_ms + rules.p95_margin_ms)
        if sample.p95_ms > limit:
            reasons.append(
                f"p95 {sample.p95_ms:.0f} ms (baseline {baseline.p95_ms:.0f} ms, "
                f"limit {limit:.0f} ms)"
            )
    if baseline.health_ok:
        judged += 1
        if not sample.health_ok:
            got = (
                f"answered {sample.health_status}"
                if sample.health_status is not None
                else f"did not answer ({sample.health_error or 'no response'})"
            )
            reasons.append(f"/health {got} (expected {sample.health_expected})")
    return SampleAssessment(figures=sample, bad=bool(reasons), unknown=judged == 0, reasons=reasons)


def evaluate(baseline: Figures, samples: Sequence[Figures], rules: WatchRules) -> WatchOutcome:
    """Judge every sample in order; regressed once `sustained_samples` bad ones are in a row."""
    assessments: list[SampleAssessment] = []
    streak = 0
    for sample in samples:
        judged = assess(baseline, sample, rules)
        assessments.append(judged)
        if judged.unknown:
            continue
        streak = streak + 1 if judged.bad else 0
        if streak >= rules.sustained_samples:
            why = "; ".join(judged.reasons)
            return WatchOutcome(
                assessments=assessments,
                streak=streak,
                regressed=True,
                reason=(
                    f"sustained regression: {streak} bad samples in a row "
                    f"(latest: {why}; baseline {baseline.describe()})"
                ),
            )
    bad = sum(1 for a in assessments if a.bad)
    return WatchOutcome(
        assessments=assessments,
        streak=streak,
        regressed=False,
        reason=(
            f"no sustained regression in {len(assessments)} samples "
            f"({bad} bad, never {rules.sustained_samples} in a row)"
        ),
    )


def sample_count(watch_minutes: float, interval_seconds: float) -> int:
    """How many samples a watch of `watch_minutes` takes, one every `interval_seconds`."""
    if watch_minutes < 0:
        raise ValueError("watch_minutes: must not be negative")
    if interval_seconds <= 0:
        raise ValueError("watch_interval_seconds: must be positive")
    if watch_minutes == 0:
        return 0
    return max(1, math.ceil(watch_minutes * 60 / interval_seconds))
