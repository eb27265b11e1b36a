"""Cost arithmetic (hotdash_ops.cost.estimate): machines and volumes -> monthly estimates; hourly usage
rows -> weekly and monthly totals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotdash_ops.cost import estimate
from hotdash_ops.cost.pricing import PricingError, load_prices
from hotdash_ops.cost.report import money, percent, signed_money
from hotdash_ops.models import Machine, Volume

PRICES = load_prices(
    {
        "source": "test",
        "as_of": "2026-08-05",
        "presets": {"shared": {1: 1.94, 2: 3.89, 4: 7.78}, "performance": {1: 31.0, 2: 62.0}},
        "included_memory_mb_per_cpu": {"shared": 256, "performance": 2048},
        "extra_ram_per_gb_month": 5.0,
        "stopped_rootfs_per_gb_month": 0.15,
        "stopped_rootfs_gb": 1.0,
        "volume_per_gb_month": 0.15,
        "region_multipliers": {"lax": 1.2},
    }
)


def machine(
    mid: str,
    state: str = "started",
    *,
    kind: str = "shared",
    cpus: int = 1,
    memory_mb: int = 256,
    region: str = "ord",
    **extra: Any,
) -> Machine:
    return Machine.model_validate(
        {
            "id": mid,
            "state": state,
            "region": region,
            "config": {"guest": {"cpu_kind": kind, "cpus": cpus, "memory_mb": memory_mb}},
            **extra,
        }
    )


def volume(vid: str, size_gb: int, attached: str | None = None, state: str = "created") -> Volume:
    return Volume.model_validate(
        {"id": vid, "name": vid, "state": state, "size_gb": size_gb, "region": "ord",
         "attached_machine_id": attached}
    )  # fmt: skip


def test_each_app_is_priced_and_every_app_listed() -> None:
    machines = {
        "web": [
            machine("m1", memory_mb=512),
            machine("m2", "stopped"),
            machine("m3", "destroyed", cpus=4),
        ],
        "api": [machine("p1", cpus=2, memory_mb=1024, region="lax")] * 2,
        "empty": [],
    }
    volumes = {
        "web": [volume("vol_a", 3, "m1"), volume("vol_b", 5), volume("vol_c", 9, state="pending_destroy")],
        "api": [],
    }  # fmt: skip
    est = estimate.estimate(machines, volumes, ["web", "api", "empty", "ghost"], PRICES)
    by = est.by_app()
    assert list(by) == ["web", "api", "empty", "ghost"]
    web = by["web"]
    assert (web.machines, web.started, web.stopped, web.volumes, web.volume_gb) == (3, 1, 1, 2, 8)
    assert web.compute == pytest.approx(1.94 + 1.25)
    assert web.rootfs == pytest.approx(0.15)  # the destroyed machine costs nothing
    assert web.volume_cost == pytest.approx(8 * 0.15)  # pending_destroy is not billed
    assert by["api"].total == pytest.approx(2 * (3.89 + 2.5) * 1.2)
    assert by["empty"].total == 0.0 and by["ghost"].total == 0.0
    assert est.total == pytest.approx(web.total + by["api"].total)
    assert est.complete and est.currency == "USD" and "as of 2026-08-05" in est.prices


def test_unreadable_apps_are_flagged_not_counted_as_zero() -> None:
    est = estimate.estimate(
        {"web": [machine("m1")]},
        {"web": []},
        ["web", "db"],
        PRICES,
        errors={"db": "FlyUnavailable"},
    )
    db = est.by_app()["db"]
    assert db.error == "FlyUnavailable" and not est.complete
    assert est.total == pytest.approx(1.94)


def test_a_machine_without_config_is_priced_as_the_default_size() -> None:
    m = Machine.model_validate({"id": "m1", "state": "started", "region": "ord"})
    assert estimate.estimate({"a": [m]}, {}, ["a"], PRICES).total == pytest.approx(1.94)


def test_unknown_cpu_kinds_are_named() -> None:
    with pytest.raises(PricingError, match="no price for cpu_kind 'gpu'"):
        estimate.estimate({"a": [machine("m1", kind="gpu")]}, {}, ["a"], PRICES)


def test_stopped_since_is_the_newest_stop_event() -> None:
    stopped = machine(
        "m1",
        "stopped",
        updated_at="2026-03-20T00:00:00Z",
        events=[
            {"type": "exit", "status": "stopped", "timestamp": 1_700_000_000_000},
            {"type": "start", "status": "started", "timestamp": 1_700_100_000_000},
            {"type": "exit", "status": "stopped", "timestamp": 1_700_200_000_000},
        ],
    )
    assert estimate.stopped_since(stopped) == datetime.fromtimestamp(1_700_200_000, UTC)
    bare = machine("m2", "stopped", updated_at="2026-03-20T00:00:00Z")
    assert estimate.stopped_since(bare) == datetime(2026, 3, 20, tzinfo=UTC)
    assert estimate.stopped_since(machine("m3")) is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["shared", "performance"]),
            st.integers(1, 16),
            st.integers(1, 64).map(lambda n: n * 256),
            st.sampled_from(["ord", "lax", "ams"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_vectorised_prices_equal_the_table_row_by_row(
    rows: list[tuple[str, int, int, str]],
) -> None:
    frame = pd.DataFrame(rows, columns=["cpu_kind", "cpus", "memory_mb", "region"])
    expected = [PRICES.started_machine(*r) for r in rows]
    assert estimate.started_prices(frame, PRICES) == pytest.approx(expected)


def usage(ts: list[str], app: str = "a", started: float = 1.0, **kw: Any) -> pd.DataFrame:
    n = len(ts)
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(ts),
            "app": [app] * n,
            "cpu_kind": [kw.get("kind", "shared")] * n,
            "cpus": [kw.get("cpus", 1)] * n,
            "memory_mb": [kw.get("memory_mb", 256)] * n,
            "region": [kw.get("region", "ord")] * n,
            "started": [started] * n,
            "stopped": [kw.get("stopped", 0.0)] * n,
            "volume_gb": [kw.get("volume_gb", 0.0)] * n,
        }
    )


def test_a_month_of_started_hours_costs_the_monthly_price() -> None:
    hours = pd.date_range("2026-03-01", periods=720, freq="h").strftime("%Y-%m-%dT%H:%M").tolist()
    priced = estimate.hourly_costs(usage(hours, volume_gb=10.0, stopped=1.0), PRICES)
    assert priced["compute"].sum() == pytest.approx(1.94)
    assert priced["rootfs"].sum() == pytest.approx(0.15)
    assert priced["volumes"].sum() == pytest.approx(1.5)
    assert priced["total"].sum() == pytest.approx(1.94 + 0.15 + 1.5)


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    # Sunday 2026-03-01 23:00 is in the week of Monday 2026-02-23; Monday 00:00 starts a new one.
    rows = pd.concat(
        [
            usage(["2026-02-28T23:00", "2026-03-01T23:00", "2026-03-02T00:00"]),
            usage(["2026-03-02T00:00"], app="b", cpus=2, started=2.0),
        ]
    )
    priced = estimate.hourly_costs(rows, PRICES)
    weekly = estimate.weekly_totals(priced)
    assert weekly[["app", "week", "machine_hours"]].to_dict("records") == [
        {"app": "a", "week": pd.Timestamp("2026-02-23"), "machine_hours": 2.0},
        {"app": "a", "week": pd.Timestamp("2026-03-02"), "machine_hours": 1.0},
        {"app": "b", "week": pd.Timestamp("2026-03-02"), "machine_hours": 2.0},
    ]
    monthly = estimate.monthly_totals(priced)
    assert monthly[["app", "month", "machine_hours"]].to_dict("records") == [
        {"app": "a", "month": pd.Timestamp("2026-02-01"), "machine_hours": 1.0},
        {"app": "a", "month": pd.Timestamp("2026-03-01"), "machine_hours": 2.0},
        {"app": "b", "month": pd.Timestamp("2026-03-01"), "machine_hours": 2.0},
    ]
    assert monthly["total"].sum() == pytest.approx(priced["total"].sum())
    assert weekly.loc[weekly["app"] == "b", "compute"].item() == pytest.approx(2 * 3.89 / 720)


def test_aware_timestamps_are_grouped_in_utc() -> None:
    naive = usage(["2026-03-01T23:30", "2026-03-02T00:30"])
    aware = naive.assign(ts=naive["ts"].dt.tz_localize("UTC").dt.tz_convert("America/New_York"))
    a = estimate.weekly_totals(estimate.hourly_costs(naive, PRICES))
    b = estimate.weekly_totals(estimate.hourly_costs(aware, PRICES))
    assert a["week"].tolist() == b["week"].tolist()
    assert np.allclose(a["total"], b["total"])


def test_money_is_rounded_only_when_shown() -> None:
    assert money(1234.5) == "$1,234.50" and money(0.004) == "$0.00"
    assert money(-3.2) == "-$3.20"
    assert money(None) == "?" and money(float("nan")) == "?"
    assert signed_money(1.0) == "+$1.00" and signed_money(-1.0) == "-$1.00"
    assert signed_money(0.001) == "$0.00"
    assert percent(None) == "n/a" and percent(2.68) == "+2.7 %"
