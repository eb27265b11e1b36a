"""Production Deployment with the canary strategy, pure: the settings, what is read per
machine, and the samples the judge compares (hotdash_ops.deploys.canary_judge).

How a canary deploy goes (flows/deploy_production.py): after both approvals, ONE started
machine of the app gets the new image through the Machines API (leased, guarded by its
`instance_id`, waited for until started with its checks passing); for `analysis_minutes` the
flow samples every machine every `HOTDASH_CANARY_SAMPLE_SECONDS` (15 s); the judge compares
the canary with the other machines (the baseline, still on the old image). Fail: the canary
machine gets its old config back, nothing else changed. Pass: `fly deploy --image <new>
--strategy rolling --max-unavailable 1` rolls the other machines one at a time, flyctl
waiting for each to be started with its checks passing, and records the release; then the
usual smoke test and watch. Inconclusive: the inventory's `on_inconclusive` decides
(promote, rollback, or ask a person).

Why not `fly deploy --strategy canary`: flyctl's canary boots one machine, waits for its
checks and goes on to a rolling deploy at once (superfly/flyctl@ad0172fa
internal/command/deploy/machines_deploymachinesapp.go: `deployCanaryMachines` creates a
canary machine and destroys it; the recovery path updates one machine and refreshes before
the rest): it never serves traffic for a while next to the old image, so there is nothing
to compare. The Machines API update is what flyctl itself does to one machine.

What one sample is, per machine (`instance` = machine id), read from Fly Proxy's per-instance
series (docs monitoring/metrics.html.md, "App - `fly_app_`": `fly_app_http_responses_count
{status}` and the `fly_app_http_response_time_seconds` histogram carry `instance`, the
`fly_edge_*` series do not):

* 5xx ratio: 5xx responses / responses over the last minute, worked out here as the monitor
  does (no 5xx series but requests: 0; no requests: no value, too little traffic);
* p95 latency over the last minute (NaN with no requests: no value);
* `/health`, requested through Fly Proxy with `fly-force-instance-id: <machine id>` (docs
  networking/dynamic-request-routing: "Forces routing to a specific Machine ... No fallback"):
  1 when it failed, 0 when it answered its expected status.

A minute-long rate window read every 15 s overlaps its neighbours, so consecutive samples are
not independent and the U test's p-value is optimistic; the effect-size gate (a difference
must also be large) is what keeps that from failing canaries over noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hotdash_ops.deploys.canary_judge import JudgeRules, Metric
from hotdash_ops.models import Machine, MachineConfig, PromResult
from hotdash_ops.validation import app_name

Strategy = Literal["canary", "rolling"]
OnInconclusive = Literal["promote", "rollback", "ask"]
RATE_WINDOW = "1m"


class CanaryPolicy(JudgeRules):
    """An app's canary settings (inventory `deploy.canary`); the judge's rules plus how long
    to analyse and what an inconclusive verdict does."""

    analysis_minutes: float = Field(default=10, gt=0, le=120)
    on_inconclusive: OnInconclusive = "ask"
    # How long an "ask" waits for a person; then the canary is rolled back (the safe side).
    decision_timeout_minutes: float = Field(default=60, gt=0, le=24 * 60)


class AppDeploy(BaseModel):
    """An app's deploy settings (inventory: the app's `deploy:`)."""

    model_config = ConfigDict(extra="forbid")

    strategy: Strategy = "rolling"  # deploy-production's default; a run's `strategy` wins
    canary: CanaryPolicy = Field(default_factory=CanaryPolicy)


class NoBaseline(Exception):
    """A canary needs other machines to compare it with: this app has too few started."""


class CanaryChoice(BaseModel):
    """The machine that gets the new image and the ones it is compared with."""

    canary: Machine
    baseline: list[Machine]


def choose_canary(machines: Sequence[Machine]) -> CanaryChoice:
    """The first started machine (by id) is the canary, as flyctl's canary prefers a started
    one; every other started machine is the baseline. NoBaseline with fewer than two."""
    started = sorted(
        (m for m in machines if m.state == "started" and m.config is not None), key=lambda m: m.id
    )
    if len(started) < 2:
        raise NoBaseline(
            f"a canary needs at least 2 started machines to compare, the app has {len(started)}"
        )
    return CanaryChoice(canary=started[0], baseline=started[1:])


class CanaryMachine(BaseModel):
    """A canary in place: which machine, what it ran before (to put back), what it runs."""

    app: str
    machine_id: str
    image: str  # the new image
    old_image: str
    old_config: MachineConfig  # the whole config it had: a rollback sends it back
    baseline: list[str]

    @property
    def machines(self) -> list[str]:
        return [self.machine_id, *self.baseline]


class DeployPlan(BaseModel):
    """How this run deploys: the strategy and, for a canary, its policy."""

    strategy: Strategy
    policy: CanaryPolicy

    def describe(self) -> str:
        """One line for the approval form and the run's summary."""
        if self.strategy == "rolling":
            return "rolling: every machine, one batch at a time, then the watch"
        p = self.policy
        return (
            f"canary: one machine first, judged against the others for "
            f"{p.analysis_minutes:g} min (inconclusive: {p.on_inconclusive}), then rolling "
            "one machine at a time, then the watch"
        )


def deploy_plan(
    settings: AppDeploy, strategy: Strategy | None, analysis_minutes: float | None
) -> DeployPlan:
    """The run's parameters over the inventory's defaults for the app."""
    policy = settings.canary
    if analysis_minutes is not None:
        policy = policy.model_copy(update={"analysis_minutes": analysis_minutes})
    return DeployPlan(strategy=strategy or settings.strategy, policy=policy)


class CanaryNotStarted(Exception):
    """The canary machine's update failed; it may still have been applied (a 5xx after Fly
    took it), so the caller reads the machine before deciding there is nothing to undo."""

    def __init__(self, canary: CanaryMachine, error: str) -> None:
        super().__init__(f"the canary update of machine {canary.machine_id} failed: {error}")
        self.canary = canary


def instance_queries(app: str) -> dict[str, str]:
    """The three per-instance PromQL queries of one sample (module docstring)."""
    sel = f'app="{app_name(app)}"'
    window = RATE_WINDOW
    return {
        "requests": (
            f"sum by (app, instance) (rate(fly_app_http_responses_count{{{sel}}}[{window}]))"
        ),
        "errors_5xx": (
            "sum by (app, instance) "
            f'(rate(fly_app_http_responses_count{{{sel},status=~"5.."}}[{window}]))'
        ),
        "p95": (
            "histogram_quantile(0.95, sum by (app, instance, le) "
            f"(rate(fly_app_http_response_time_seconds_bucket{{{sel}}}[{window}])))"
        ),
    }


class InstanceSample(BaseModel):
    """One machine at one moment. None: no value (no traffic, no answer to read)."""

    at: datetime
    instance: str
    canary: bool
    error_rate: float | None = None
    p95_ms: float | None = None
    health_failed: bool | None = None


def _latest(result: PromResult) -> dict[str, float]:
    out: dict[str, float] = {}
    for instance, series in result.by_label("instance").items():
        if series.values:
            out[instance] = series.values[-1][1]
    return out


def instance_figures(
    requests: PromResult, errors_5xx: PromResult, p95: PromResult
) -> dict[str, tuple[float | None, float | None]]:
    """instance -> (5xx ratio, p95 ms) from one sample's answers (None: no value)."""
    totals, bad, latency = _latest(requests), _latest(errors_5xx), _latest(p95)
    out: dict[str, tuple[float | None, float | None]] = {}
    for instance in set(totals) | set(latency):
        total = totals.get(instance, 0.0)
        traffic = math.isfinite(total) and total > 0
        errors = bad.get(instance, 0.0)  # requests and no 5xx series: none failed
        ratio = errors / total if traffic and math.isfinite(errors) else None
        seconds = latency.get(instance, math.nan)
        out[instance] = (ratio, seconds * 1000 if traffic and math.isfinite(seconds) else None)
    return out


FIGURES = ("error_rate", "p95_ms", "health_failed")  # an InstanceSample's figures


class TimelineRow(BaseModel):
    """One sampling round: figure -> the canary's value and the baseline machines' mean."""

    at: datetime
    canary: dict[str, float | None]
    baseline: dict[str, float | None]


class CanaryAnalysis(BaseModel):
    """Every sample of an analysis, canary and baseline machines alike."""

    app: str
    canary: str  # the canary machine's id
    baseline: list[str]  # the other machines' ids
    samples: list[InstanceSample] = Field(default_factory=list)

    def for_judge(self) -> dict[Metric, tuple[list[float], list[float]]]:
        """metric -> (canary values, baseline values); NaN where a sample has none."""

        def values(pick: str, canary: bool) -> list[float]:
            out = []
            for s in self.samples:
                if s.canary != canary:
                    continue
                value = getattr(s, pick)
                out.append(math.nan if value is None else float(value))
            return out

        return {
            "error_rate": (values("error_rate", True), values("error_rate", False)),
            "p95_ms": (values("p95_ms", True), values("p95_ms", False)),
            "health_failures": (values("health_failed", True), values("health_failed", False)),
        }

    def timeline(self) -> list[TimelineRow]:
        """One row per sampling round: the canary's figures and the baseline machines' mean
        (for the chart and the table artifact)."""
        by_time: dict[datetime, list[InstanceSample]] = {}
        for s in self.samples:
            by_time.setdefault(s.at, []).append(s)
        rows = []
        for at in sorted(by_time):
            group = by_time[at]
            rows.append(
                TimelineRow(
                    at=at,
                    canary={f: _mean([getattr(s, f) for s in group if s.canary]) for f in FIGURES},
                    baseline={
                        f: _mean([getattr(s, f) for s in group if not s.canary]) for f in FIGURES
                    },
                )
            )
        return rows


def _mean(values: Sequence[float | bool | None]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return math.fsum(known) / len(known) if known else None


def samples_at(
    at: datetime,
    *,
    canary: str,
    machines: Sequence[str],
    figures: Mapping[str, tuple[float | None, float | None]],
    health_failed: Mapping[str, bool | None],
) -> list[InstanceSample]:
    """One sampling round: a sample per machine (an instance without series has no value)."""
    return [
        InstanceSample(
            at=at,
            instance=m,
            canary=m == canary,
            error_rate=figures.get(m, (None, None))[0],
            p95_ms=figures.get(m, (None, None))[1],
            health_failed=health_failed.get(m),
        )
        for m in machines
    ]


def sample_rounds(analysis_minutes: float, sample_seconds: float) -> int:
    """How many sampling rounds an analysis of `analysis_minutes` takes (at least one)."""
    if analysis_minutes <= 0:
        raise ValueError("analysis_minutes: must be positive")
    if sample_seconds <= 0:
        raise ValueError("HOTDASH_CANARY_SAMPLE_SECONDS: must be positive")
    # Rounded first: 0.01 min / 0.05 s is 12.000000000000002 in floating point, not 13 rounds.
    return max(1, math.ceil(round(analysis_minutes * 60 / sample_seconds, 6)))
