"""The canary analysis as a chart: canary against baseline over time, one panel per metric
(5xx ratio, p95 latency, /health failures), a PNG as hotdash_ops.charts makes them."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt

from hotdash_ops.charts import DPI, save_png
from hotdash_ops.deploys.canary import CanaryAnalysis
from hotdash_ops.deploys.canary_judge import Judgement, Metric

PANELS: tuple[tuple[str, Metric, str, float], ...] = (
    ("error_rate", "error_rate", "5xx ratio (%)", 100.0),
    ("p95_ms", "p95_ms", "p95 latency (ms)", 1.0),
    ("health_failed", "health_failures", "/health failing (share)", 1.0),
)
VERDICT_COLOURS = {"pass": "tab:green", "fail": "tab:red", "inconclusive": "tab:orange"}


def render_canary_chart(
    analysis: CanaryAnalysis, judgement: Judgement, path: Path, *, title: str
) -> Path:
    """Write the analysis's timeline as a PNG: the canary's line against the baseline
    machines' mean, each panel titled with its metric's verdict."""
    rows = analysis.timeline()
    if not rows:
        raise ValueError("analysis: no samples to chart")
    start = rows[0].at
    elapsed = [(r.at - start).total_seconds() / 60 for r in rows]
    verdicts = {m.metric: m.verdict for m in judgement.metrics}
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(8, 7), dpi=DPI, sharex=True)
    try:
        for ax, (figure, metric, label, scale) in zip(axes, PANELS, strict=True):
            baseline = [_scaled(r.baseline[figure], scale) for r in rows]
            canary = [_scaled(r.canary[figure], scale) for r in rows]
            ax.plot(elapsed, baseline, "-", label="baseline (mean of the other machines)")
            ax.plot(elapsed, canary, "-o", label="canary", markersize=3)
            verdict = verdicts.get(metric, "inconclusive")
            ax.set_title(f"{label}: {verdict.upper()}", color=VERDICT_COLOURS[verdict], fontsize=9)
            ax.set_ylabel(label, fontsize=8)
            ax.legend(fontsize=7, loc="upper left")
        axes[-1].set_xlabel(f"minutes since {start:%H:%M:%S %Z}")
        fig.suptitle(title, fontsize=10)
    except BaseException:
        plt.close(fig)
        raise
    return save_png(fig, path)


def _scaled(value: float | None, scale: float) -> float:
    # A gap in the line where a round had no value (no traffic).
    return math.nan if value is None else value * scale
