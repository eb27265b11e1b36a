"""The price table the cost estimates use: the inventory's `prices:` section.

Fly publishes no billing API (docs/fly.md, "Prices"), so costs are estimated from the public
price list, kept in the inventory with its source and date so a reader knows how old the
numbers are. Everything is per 30 days, the period Fly's prices are quoted in:

* a started machine: its preset's price (by cpu kind and CPU count) plus extra RAM above the
  preset's included memory, times the region's multiplier (Fly prices machines per region);
* a stopped or suspended machine: only its root filesystem, per GB;
* a volume: per provisioned GB, attached or not (no regional multiplier is published).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hotdash_ops.validation import field_problems

MB_PER_GB = 1024


class PricingError(ValueError):
    """The price table is missing or invalid, or cannot price a resource (names the field)."""


class PriceTable(BaseModel):
    """Fly.io list prices in one currency, per `days_per_month` days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1, description="where the numbers come from (URLs)")
    as_of: date = Field(description="when the numbers were last checked")
    currency: str = "USD"
    days_per_month: int = Field(30, ge=28, le=31)
    # cpu kind -> CPU count -> price of the preset with its included memory.
    presets: dict[str, dict[int, float]]
    included_memory_mb_per_cpu: dict[str, int]
    extra_ram_per_gb_month: float = Field(ge=0)
    stopped_rootfs_per_gb_month: float = Field(ge=0)
    # The API does not report a machine's image size; this is the estimate per stopped machine.
    stopped_rootfs_gb: float = Field(ge=0)
    volume_per_gb_month: float = Field(ge=0)
    region_multipliers: dict[str, float] = Field(default_factory=dict)

    @field_validator("presets")
    @classmethod
    def _one_cpu_prices(cls, value: dict[str, dict[int, float]]) -> dict[str, dict[int, float]]:
        for kind, by_cpus in value.items():
            if 1 not in by_cpus:
                # The 1-CPU price is the base that unlisted CPU counts are priced from.
                raise ValueError(f"{kind}: needs the price of 1 CPU")
            for cpus, price in by_cpus.items():
                if cpus < 1 or price < 0:
                    raise ValueError(f"{kind}.{cpus}: CPU count >= 1 and price >= 0 required")
        return value

    @field_validator("region_multipliers")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for region, ratio in value.items():
            if ratio <= 0:
                raise ValueError(f"{region}: multiplier must be > 0, not {ratio}")
        return value

    def preset_price(self, cpu_kind: str, cpus: int) -> float:
        """The preset's price; a CPU count not listed is priced as CPUs x the 1-CPU price."""
        by_cpus = self.presets.get(cpu_kind)
        if by_cpus is None:
            known = ", ".join(self.presets)
            raise PricingError(f"prices.presets: no price for cpu_kind {cpu_kind!r} ({known})")
        return by_cpus.get(cpus, by_cpus[1] * cpus)

    def included_memory_mb(self, cpu_kind: str, cpus: int) -> int:
        """Memory the preset includes (shared: 256 MB per CPU, performance: 2048 MB per CPU)."""
        per_cpu = self.included_memory_mb_per_cpu.get(cpu_kind)
        if per_cpu is None:
            raise PricingError(
                f"prices.included_memory_mb_per_cpu: no value for cpu_kind {cpu_kind!r}"
            )
        return per_cpu * cpus

    def region_multiplier(self, region: str) -> float:
        """The region's price ratio to the baseline (1.0 when the table does not list it)."""
        return self.region_multipliers.get(region, 1.0)

    def started_machine(self, cpu_kind: str, cpus: int, memory_mb: int, region: str) -> float:
        """Monthly price of a machine started all month."""
        preset = self.preset_price(cpu_kind, cpus)
        extra_mb = max(0, memory_mb - self.included_memory_mb(cpu_kind, cpus))
        base = preset + extra_mb / MB_PER_GB * self.extra_ram_per_gb_month
        return base * self.region_multiplier(region)

    def stopped_machine(self) -> float:
        """Monthly price of a machine stopped all month (its root filesystem)."""
        return self.stopped_rootfs_gb * self.stopped_rootfs_per_gb_month

    def volume(self, size_gb: float) -> float:
        """Monthly price of a provisioned volume."""
        return size_gb * self.volume_per_gb_month

    def describe(self) -> str:
        """One line for reports: where the prices come from and how old they are."""
        return (
            f"{self.currency} per {self.days_per_month} days, from {self.source} as of {self.as_of}"
        )


def load_prices(raw: dict[str, Any] | None) -> PriceTable:
    """The inventory's `prices:` section as a table; PricingError names the bad field."""
    if raw is None:
        raise PricingError("prices: the inventory has no price table (a `prices:` section)")
    try:
        return PriceTable.model_validate(raw)
    except ValidationError as exc:
        problems = field_problems(exc, "prices")
        raise PricingError(problems) from None
