"""The price table (hotdash_ops.cost.pricing) and the inventory's `prices:` section."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hotdash_ops.cost.pricing import PriceTable, PricingError, load_prices
from hotdash_ops.inventory import load_inventory

ROOT = Path(__file__).resolve().parents[3]

RAW = {
    "source": "https://fly.io/docs/about/pricing/",
    "as_of": "2026-08-05",
    "presets": {"shared": {1: 1.94, 2: 3.89}, "performance": {1: 31.0}},
    "included_memory_mb_per_cpu": {"shared": 256, "performance": 2048},
    "extra_ram_per_gb_month": 5.0,
    "stopped_rootfs_per_gb_month": 0.15,
    "stopped_rootfs_gb": 2.0,
    "volume_per_gb_month": 0.15,
    "region_multipliers": {"lax": 1.2},
}


def table(**changes: object) -> PriceTable:
    return load_prices({**RAW, **changes})


def test_the_inventory_carries_a_dated_price_table_from_fly_notes() -> None:
    prices = load_prices(load_inventory(ROOT / "deployments/inventory.yaml").prices)
    assert prices.presets["shared"][1] == 1.94 and prices.presets["performance"][1] == 31.0
    assert prices.extra_ram_per_gb_month == 5.0
    assert prices.stopped_rootfs_per_gb_month == 0.15 and prices.volume_per_gb_month == 0.15
    assert prices.days_per_month == 30 and prices.currency == "USD"
    assert "fly.io/docs/about/pricing" in prices.source
    assert isinstance(prices.as_of, date)
    assert "as of 2026-08-05" in prices.describe()


def test_started_machine_is_preset_plus_extra_ram_times_region() -> None:
    prices = table()
    assert prices.started_machine("shared", 1, 256, "ord") == pytest.approx(1.94)
    # 512 MB on a 1-CPU shared preset: 256 MB extra = a quarter GB at $5
    assert prices.started_machine("shared", 1, 512, "ord") == pytest.approx(1.94 + 1.25)
    assert prices.started_machine("shared", 2, 1024, "lax") == pytest.approx((3.89 + 2.5) * 1.2)
    assert prices.started_machine("performance", 1, 2048, "iad") == pytest.approx(31.0)


def test_unlisted_cpu_counts_are_priced_from_the_one_cpu_price() -> None:
    assert table().preset_price("shared", 4) == pytest.approx(4 * 1.94)
    assert table().preset_price("shared", 2) == pytest.approx(3.89)  # listed wins


def test_stopped_machines_and_volumes() -> None:
    prices = table()
    assert prices.stopped_machine() == pytest.approx(2.0 * 0.15)
    assert prices.volume(10) == pytest.approx(1.5)
    assert prices.region_multiplier("ams") == 1.0


def test_an_unknown_cpu_kind_is_named() -> None:
    with pytest.raises(PricingError, match=r"prices.presets: no price for cpu_kind 'gpu'"):
        table().started_machine("gpu", 1, 256, "ord")


def test_missing_table_is_refused_with_the_field_name() -> None:
    with pytest.raises(PricingError, match=r"^prices: the inventory has no price table"):
        load_prices(None)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"volume_per_gb_month": -1}, r"prices.volume_per_gb_month: Input should be greater"),
        (
            {"presets": {"shared": {2: 3.89}}},
            r"prices.presets: shared: needs the price of 1 CPU",
        ),
        ({"region_multipliers": {"lax": 0}}, r"lax: multiplier must be > 0"),
        ({"as_of": "last week"}, r"prices.as_of:"),
        ({"surprise": 1}, r"prices.surprise: Extra inputs are not permitted"),
    ],
)
def test_bad_tables_are_refused_naming_the_field(changes: dict, message: str) -> None:
    with pytest.raises(PricingError, match=message):
        table(**changes)


def test_source_and_date_are_required() -> None:
    raw = {k: v for k, v in RAW.items() if k not in ("source", "as_of")}
    with pytest.raises(PricingError) as info:
        load_prices(raw)
    assert "prices.source: Field required" in str(info.value)
    assert "prices.as_of: Field required" in str(info.value)
