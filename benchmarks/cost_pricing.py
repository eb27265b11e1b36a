"""Pricing a year of hourly usage rows for 100 apps (876,000 rows) and producing the weekly and
monthly aggregates (hotdash_ops.cost.estimate), against a plain pandas groupby of the same rows.

The floor, measured in the same run: `rows.groupby([app, week]).sum()` and the same by month
on the raw columns, with pandas' own period keys and no pricing. The ratio says what pricing
costs on top of the aggregation itself. Best of `REPEATS` runs each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import best_of
from hotdash_ops.cost.estimate import hourly_costs, monthly_totals, weekly_totals
from hotdash_ops.cost.pricing import PriceTable, load_prices
from hotdash_ops.inventory import load_inventory

APPS = 100
HOURS = 365 * 24
REPEATS = 3
LIMIT_SECONDS = 3.0
INVENTORY = Path(__file__).resolve().parent.parent / "deployments/inventory.yaml"

_GUESTS = [("shared", 1, 256), ("shared", 1, 512), ("shared", 2, 1024), ("shared", 4, 2048),
           ("performance", 1, 2048), ("performance", 2, 8192)]  # fmt: skip
_REGIONS = ["ord", "iad", "lax", "sjc", "lhr", "fra"]


def usage_rows(apps: int = APPS, hours: int = HOURS, seed: int = 7) -> pd.DataFrame:
    """One row per app and hour of 2025: a fixed size and region per app, 0-3 machines
    started each hour (auto-stop), the rest of its 3 machines stopped, a fixed volume."""
    rng = np.random.default_rng(seed)
    guest = rng.integers(0, len(_GUESTS), apps)
    region = rng.integers(0, len(_REGIONS), apps)
    volume = rng.choice([0, 1, 3, 10, 40], apps)
    started = rng.integers(0, 4, apps * hours).astype(float)
    app_index = np.repeat(np.arange(apps), hours)
    start = np.datetime64("2025-01-01T00:00")
    ts = start + np.tile(np.arange(hours), apps).astype("timedelta64[h]")
    names = np.array([f"bench-app-{i:03d}" for i in range(apps)])
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(ts),
            "app": pd.Categorical(names[app_index]),
            "cpu_kind": pd.Categorical([_GUESTS[g][0] for g in guest])[app_index],
            "cpus": np.array([_GUESTS[g][1] for g in guest])[app_index],
            "memory_mb": np.array([_GUESTS[g][2] for g in guest])[app_index],
            "region": pd.Categorical([_REGIONS[r] for r in region])[app_index],
            "started": started,
            "stopped": 3.0 - started,
            "volume_gb": volume[app_index].astype(float),
        }
    )


def _ours(rows: pd.DataFrame, prices: PriceTable) -> tuple[pd.DataFrame, pd.DataFrame]:
    priced = hourly_costs(rows, prices)
    return weekly_totals(priced), monthly_totals(priced)


def _plain(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    numeric = ["started", "stopped", "volume_gb"]
    weekly = rows.groupby(["app", rows["ts"].dt.to_period("W")], observed=True)[numeric].sum()
    monthly = rows.groupby(["app", rows["ts"].dt.to_period("M")], observed=True)[numeric].sum()
    return weekly, monthly


def run() -> dict[str, Any]:
    """The numbers `make bench` prints."""
    prices = load_prices(load_inventory(INVENTORY).prices)
    rows = usage_rows()
    ours_s, (weekly, monthly) = best_of(REPEATS, _ours, rows, prices)
    plain_s, (plain_weekly, plain_monthly) = best_of(REPEATS, _plain, rows)
    return {
        "rows": len(rows),
        "apps": APPS,
        "pricing_and_aggregates_s": round(ours_s, 3),
        "plain_groupby_s": round(plain_s, 3),
        "ratio_to_plain_groupby": round(ours_s / plain_s, 2),
        "under_3s": ours_s < LIMIT_SECONDS,
        "weekly_rows": len(weekly),
        "monthly_rows": len(monthly),
        "plain_weekly_rows": len(plain_weekly),
        "plain_monthly_rows": len(plain_monthly),
        "year_total_usd": round(float(monthly["total"].sum()), 2),
        # the same money, whichever way it is cut
        "weeks_equal_months": bool(np.isclose(weekly["total"].sum(), monthly["total"].sum())),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
