"""The canary judge: is the canary machine worse than the baseline machines?

Production Deployment with the canary strategy: one machine runs the new image, the others the
old one, and the flow samples each machine's 5xx ratio, p95 latency and `/health` for the
analysis time (hotdash_ops.deploys.canary). This module turns those samples into a verdict the
way Kayenta's default judge (NetflixACAJudge) does, in our own, smaller form (spinnaker.io docs
"How canary judgment works"; spinnaker/kayenta kayenta-judge .../classifiers/metric/
MannWhitneyClassifier.scala):

* per metric, the canary's samples against the baseline's (every baseline machine's samples
  together); values without data (NaN: no requests, so no ratio and no p95) are dropped, as
  Kayenta's default `nanStrategy: remove` does;
* fewer than `min_samples` on either side: **inconclusive** (too little traffic to judge);
* a one-sided Mann-Whitney U test, "is the canary stochastically higher?" (higher is worse for
  all three metrics), with scipy.stats.mannwhitneyu: the exact distribution for small samples
  without ties, else the normal approximation with the tie correction (a `/health` metric is
  0/1 and all ties); significant when p < 1 - `confidence`;
* significance alone does not fail a canary: the difference must also matter. The effect size
  is Kayenta's `meanRatio` (canary mean / baseline mean) against `effect_size` (Kayenta's
  `allowedIncrease`), and, because a mean near zero makes any ratio huge (a 5xx ratio of 0.1 %
  against 0.05 %), the means must also differ by at least `min_difference`;
* **fail** = significant and both effect gates passed; otherwise **pass** (not higher, or
  higher by less than the effect size: "only slightly worse").

Overall: fail if any metric fails; else inconclusive if any metric is; else pass. (Kayenta
scores groups and compares the score with thresholds; with three metrics, each of which
matters, "any fail fails" is that rule with a pass threshold of 100.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Metric = Literal["error_rate", "p95_ms", "health_failures"]
Verdict = Literal["pass", "fail", "inconclusive"]
METRICS: tuple[Metric, ...] = ("error_rate", "p95_ms", "health_failures")
LABELS: dict[str, str] = {
    "error_rate": "5xx ratio",
    "p95_ms": "p95 latency",
    "health_failures": "/health failures",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EffectSize(_Strict):
    """How much worse counts: canary mean / baseline mean at least `effect_size`, and at least
    `min_difference` more in the metric's unit."""

    effect_size: float = Field(ge=1.0)
    min_difference: float = Field(ge=0)


DEFAULT_EFFECTS: dict[Metric, EffectSize] = {
    # 5xx share (0-1): 1.5 times the baseline's and half a percentage point more.
    "error_rate": EffectSize(effect_size=1.5, min_difference=0.005),
    # p95 (ms): 20 % slower (Kayenta's own example allowedIncrease) and 50 ms more.
    "p95_ms": EffectSize(effect_size=1.2, min_difference=50.0),
    # share of failed /health probes (0-1): 5 points more than the baseline's.
    "health_failures": EffectSize(effect_size=1.0, min_difference=0.05),
}


class JudgeRules(_Strict):
    """The judge's settings (inventory: an app's `canary:` section)."""

    confidence: float = Field(default=0.99, gt=0.5, lt=1.0)
    min_samples: int = Field(default=20, ge=3, le=10_000)
    effects: dict[Metric, EffectSize] = Field(default_factory=lambda: dict(DEFAULT_EFFECTS))

    def effect(self, metric: Metric) -> EffectSize:
        """The metric's effect size: the inventory's, else the default."""
        return self.effects.get(metric, DEFAULT_EFFECTS[metric])


class UTest(BaseModel):
    """A one-sided Mann-Whitney U test of "x is stochastically greater than y"."""

    u: float  # U of the first sample: pairs where x > y, ties counting a half
    p_value: float
    method: str  # "exact" or "asymptotic"


def u_test_greater(x: Sequence[float], y: Sequence[float]) -> UTest:
    """scipy's Mann-Whitney U test, alternative "greater", method chosen as scipy's "auto"
    does (exact when both samples are small and untied, else normal with tie correction)."""
    # Imported here: scipy.stats takes about a second to import, and the inventory (which
    # every flow loads) holds these rules.
    from scipy.stats import mannwhitneyu

    if not x or not y:
        raise ValueError("u_test_greater: both samples need at least one value")
    # scipy's rule for method="auto" (exact when either sample is <= 8 long and no ties),
    # repeated to report which one ran.
    exact = (len(x) <= 8 or len(y) <= 8) and len(set(x) | set(y)) == len(x) + len(y)
    method = "exact" if exact else "asymptotic"
    result = mannwhitneyu(x, y, alternative="greater", method=method)
    return UTest(u=float(result.statistic), p_value=float(result.pvalue), method=method)


class MetricVerdict(BaseModel):
    """One metric's comparison, with the figures a person checks it by."""

    metric: Metric
    verdict: Verdict
    canary_n: int
    baseline_n: int
    canary_mean: float | None = None
    baseline_mean: float | None = None
    ratio: float | None = None  # canary mean / baseline mean; None when the baseline's is 0
    p_value: float | None = None
    u: float | None = None
    reason: str

    @property
    def label(self) -> str:
        return LABELS[self.metric]


class Judgement(BaseModel):
    """The overall verdict and each metric's."""

    verdict: Verdict
    metrics: list[MetricVerdict]
    rules: JudgeRules

    @property
    def reason(self) -> str:
        """One line: the verdict and what decided it."""
        deciding = [m for m in self.metrics if m.verdict == self.verdict] or self.metrics
        why = "; ".join(f"{m.label}: {m.reason}" for m in deciding)
        return f"canary {self.verdict.upper()}: {why}"

    def rows(self) -> list[dict[str, str]]:
        """The comparison table (one row per metric) for artifacts and notifications."""
        return [
            {
                "metric": m.label,
                "verdict": m.verdict.upper(),
                "canary": _fmt(m.metric, m.canary_mean, m.canary_n),
                "baseline": _fmt(m.metric, m.baseline_mean, m.baseline_n),
                "ratio": "-" if m.ratio is None else f"x{m.ratio:.2f}",
                "p": "-" if m.p_value is None else f"{m.p_value:.3g}",
                "why": m.reason,
            }
            for m in self.metrics
        ]

    def table(self) -> str:
        """The comparison as a markdown table (for messages and the decision form)."""
        rows = self.rows()
        head = list(rows[0]) if rows else []
        lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        lines += ["| " + " | ".join(r[h].replace("|", "/") for h in head) + " |" for r in rows]
        return "\n".join(lines)


def _fmt(metric: Metric, mean: float | None, n: int) -> str:
    if mean is None:
        return f"no data ({n} samples)"
    if metric == "p95_ms":
        return f"{mean:.0f} ms ({n} samples)"
    return f"{mean * 100:.2f} % ({n} samples)"


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def judge_metric(
    metric: Metric, canary: Sequence[float], baseline: Sequence[float], rules: JudgeRules
) -> MetricVerdict:
    """Judge one metric (module docstring)."""
    c, b = _finite(canary), _finite(baseline)
    counts = {"metric": metric, "canary_n": len(c), "baseline_n": len(b)}
    if len(c) < rules.min_samples or len(b) < rules.min_samples:
        return MetricVerdict(
            **counts,
            verdict="inconclusive",
            canary_mean=math.fsum(c) / len(c) if c else None,
            baseline_mean=math.fsum(b) / len(b) if b else None,
            reason=(
                f"too little data: {len(c)} canary and {len(b)} baseline samples "
                f"(need {rules.min_samples} each)"
            ),
        )
    c_mean, b_mean = math.fsum(c) / len(c), math.fsum(b) / len(b)
    ratio = c_mean / b_mean if b_mean > 0 else None
    means = {"canary_mean": c_mean, "baseline_mean": b_mean, "ratio": ratio}
    if len(set(c) | set(b)) == 1:  # one value everywhere: nothing to rank (Kayenta: Pass)
        return MetricVerdict(**counts, **means, verdict="pass", reason="identical samples")
    test = u_test_greater(c, b)
    stats = {**means, "p_value": test.p_value, "u": test.u}
    alpha = 1 - rules.confidence
    if test.p_value >= alpha:
        return MetricVerdict(
            **counts,
            **stats,
            verdict="pass",
            reason=f"not significantly higher (p={test.p_value:.3g} >= {alpha:.3g})",
        )
    effect = rules.effect(metric)
    big_enough = (ratio is None and c_mean > b_mean) or (
        ratio is not None and ratio >= effect.effect_size
    )
    if big_enough and c_mean - b_mean >= effect.min_difference:
        shown = "from zero" if ratio is None else f"x{ratio:.2f}"
        return MetricVerdict(
            **counts,
            **stats,
            verdict="fail",
            reason=(
                f"significantly higher (p={test.p_value:.3g}) by {shown}, "
                f"beyond the effect size (x{effect.effect_size:g}, "
                f"+{_amount(metric, effect.min_difference)})"
            ),
        )
    return MetricVerdict(
        **counts,
        **stats,
        verdict="pass",
        reason=(
            f"higher (p={test.p_value:.3g}) but within the effect size "
            f"(x{'inf' if ratio is None else f'{ratio:.2f}'} and "
            f"+{_amount(metric, c_mean - b_mean)}; fails at x{effect.effect_size:g} and "
            f"+{_amount(metric, effect.min_difference)})"
        ),
    )


def _amount(metric: Metric, value: float) -> str:
    return f"{value:.0f} ms" if metric == "p95_ms" else f"{value * 100:.2f} pp"


def judge(
    samples: Mapping[Metric, tuple[Sequence[float], Sequence[float]]], rules: JudgeRules
) -> Judgement:
    """Every metric's verdict from its (canary, baseline) samples, and the overall one."""
    verdicts = [judge_metric(m, *samples[m], rules) for m in METRICS if m in samples]
    if not verdicts:
        raise ValueError("samples: no metric to judge")
    found = {v.verdict for v in verdicts}
    overall: Verdict = (
        "fail" if "fail" in found else "inconclusive" if "inconclusive" in found else "pass"
    )
    return Judgement(verdict=overall, metrics=verdicts, rules=rules)
