"""The monthly report's chart: estimated monthly cost by app, one stacked bar per weekly review
(a PNG, as hotdash_ops.charts makes them)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from hotdash_ops.charts import DPI, save_png


def render_cost_chart(
    trend: pd.DataFrame, path: Path, *, title: str, currency: str = "USD"
) -> Path:
    """Write `trend` (apps x dates, as `cost_snapshots.month_trend`) as a stacked bar PNG."""
    apps = trend.drop(index="TOTAL", errors="ignore").fillna(0.0)
    if apps.empty:
        raise ValueError("trend: no snapshot figures to chart")
    apps = apps.loc[apps.sum(axis=1).sort_values(ascending=False).index]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=DPI)
    try:
        bottom = pd.Series(0.0, index=apps.columns)
        cmap = plt.get_cmap("tab20")
        for i, (app, row) in enumerate(apps.iterrows()):
            ax.bar(
                list(apps.columns), row.to_numpy(), bottom=bottom.to_numpy(),
                label=str(app), color=cmap(i % 20),
            )  # fmt: skip
            bottom = bottom + row
        for x, total in enumerate(bottom.to_numpy()):
            ax.annotate(f"{total:,.2f}", (x, total), ha="center", va="bottom", fontsize=8)
        ax.margins(y=0.12)  # room for the totals above the bars
        ax.set_title(title)
        ax.set_ylabel(f"{currency} per month (estimate)")
        ax.set_xlabel("weekly review")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    except BaseException:
        plt.close(fig)
        raise
    return save_png(fig, path)
