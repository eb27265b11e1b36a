"""Error budgets and burn-rate alerts, pure (Monitoring & Alerts, for apps with SLOs).

The arithmetic of Google's SRE workbook, chapter "Alerting on SLOs"
(https://sre.google/workbook/alerting-on-slos/):

* an SLO is a target share of good events over a period, e.g. 99.5 % over 30 days; the error
  budget is the rest, 1 - target (0.5 %);
* the burn rate over a window is the window's error ratio divided by the budget: 1 spends
  the budget exactly over the period, 14.4 spends it in 30 d / 14.4 = 50 h;
* the budget a window consumes is burn rate x window / period (14.4 x 1 h / 720 h = 2 %);
* the budget left over the period is 1 - (the period's error ratio / budget); below 0 it is
  overspent;
* multiwindow, multi-burn-rate alerts: a rule fires when the burn rate is above its
  threshold over its long window AND over its short window (1/12 of the long one: the long
  window says it matters, the short one that it is still happening, so the alert resets
  quickly once it stops). The workbook's recommended rules, with its budget consumption,
  windows and burn rates:

  ==========  ==================  ===========  ============  =========  ============
  rule        budget consumption  long window  short window  burn rate  here
  ==========  ==================  ===========  ============  =========  ============
  fast burn   2 %                 1 h          5 m           14.4       critical
  slow burn   5 %                 6 h          30 m          6          warning
  ==========  ==================  ===========  ============  =========  ============

  (the workbook pages for both; here the fast burn is critical, which starts
  incident-response, and the slow burn a warning; its third row, 10 % in 3 days as a ticket,
  is not an alert here: the weekly review shows the budget left instead).

Which error ratios feed this (5xx share and `/health` for availability, p95 for latency) is
the monitor's business; this module only does the sums.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The workbook's SLO period for its tables, and ours by default.
DEFAULT_PERIOD = timedelta(days=30)


class BurnRule(BaseModel):
    """One multiwindow burn-rate rule: `budget_consumed` of the budget spent in
    `long_window`, seen over `short_window` too."""

    model_config = ConfigDict(frozen=True)

    name: str
    budget_consumed: float = Field(gt=0, le=1)
    long_window: timedelta
    short_window: timedelta
    severity: str

    def burn_rate(self, period: timedelta = DEFAULT_PERIOD) -> float:
        """The threshold: the burn rate that spends `budget_consumed` in the long window."""
        return self.budget_consumed * (period / self.long_window)


FAST_BURN = BurnRule(
    name="fast burn",
    budget_consumed=0.02,
    long_window=timedelta(hours=1),
    short_window=timedelta(minutes=5),
    severity="critical",
)
SLOW_BURN = BurnRule(
    name="slow burn",
    budget_consumed=0.05,
    long_window=timedelta(hours=6),
    short_window=timedelta(minutes=30),
    severity="warning",
)
WORKBOOK_RULES: tuple[BurnRule, ...] = (FAST_BURN, SLOW_BURN)


def windows(rules: tuple[BurnRule, ...] = WORKBOOK_RULES) -> list[timedelta]:
    """Every window the rules look at, shortest first."""
    return sorted({w for r in rules for w in (r.long_window, r.short_window)})


def error_budget(target: float) -> float:
    """The budget of an SLO `target` (a share, 0.995): 1 - target."""
    if not 0 < target < 1:
        raise ValueError(f"target: must be between 0 and 1 (exclusive), not {target}")
    return 1 - target


def burn_rate(error_ratio: float, target: float) -> float:
    """How fast a window's `error_ratio` spends the budget (1 = exactly over the period)."""
    if error_ratio < 0:
        raise ValueError(f"error_ratio: must not be negative, not {error_ratio}")
    return error_ratio / error_budget(target)


def budget_consumed(rate: float, window: timedelta, period: timedelta = DEFAULT_PERIOD) -> float:
    """The share of the period's budget that `window` at burn rate `rate` spends."""
    return rate * (window / period)


def time_to_exhaustion(rate: float, period: timedelta = DEFAULT_PERIOD) -> timedelta | None:
    """How long a whole budget lasts at burn rate `rate` (None: it is not being spent)."""
    return period / rate if rate > 0 else None


def budget_left(period_error_ratio: float, target: float) -> float:
    """The share of the budget left after a period with `period_error_ratio` (negative:
    overspent)."""
    return 1 - burn_rate(period_error_ratio, target)


class Slo(BaseModel):
    """One objective: `target` % good over `period_days` (inventory: an app's `slo:`)."""

    model_config = ConfigDict(extra="forbid")

    target: float = Field(gt=0, lt=100, description="percent of good events, e.g. 99.5")
    period_days: int = Field(default=30, ge=1, le=90)

    @property
    def share(self) -> float:
        return self.target / 100

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.period_days)


class AppSlos(BaseModel):
    """An app's SLOs: availability (5xx share and `/health`) and latency (time with p95 above
    `latency_p95_ms`). Inventory::

        slo:
          availability: 99.5          # % of requests answered without a 5xx, and of time up
          latency_p95_ms: 800         # p95 above this is a bad minute
          latency: 99.0               # % of minutes with p95 within latency_p95_ms
          period_days: 30
    """

    model_config = ConfigDict(extra="forbid")

    availability: float = Field(gt=0, lt=100)
    latency_p95_ms: float | None = Field(default=None, gt=0)
    latency: float | None = Field(default=None, gt=0, lt=100)
    period_days: int = Field(default=30, ge=1, le=90)

    @model_validator(mode="after")
    def _latency_pair(self) -> AppSlos:
        if (self.latency is None) != (self.latency_p95_ms is None):
            raise ValueError("latency and latency_p95_ms: give both or neither")
        return self

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.period_days)

    def objectives(self) -> dict[str, Slo]:
        """SLI name -> its objective."""
        out = {"availability": Slo(target=self.availability, period_days=self.period_days)}
        if self.latency is not None:
            out["latency"] = Slo(target=self.latency, period_days=self.period_days)
        return out


class RuleOutcome(BaseModel):
    """One burn rule for one SLI: the burn rates it saw and whether it fires."""

    rule: BurnRule
    threshold: float
    long_rate: float | None  # None: no data for that window
    short_rate: float | None
    fires: bool

    def describe(self) -> str:
        def rate(value: float | None) -> str:
            return "no data" if value is None else f"{value:.1f}x"

        return (
            f"{self.rule.name}: burn {rate(self.long_rate)} over {duration(self.rule.long_window)}"
            f" and {rate(self.short_rate)} over {duration(self.rule.short_window)} "
            f"(fires above {self.threshold:.1f}x on both)"
        )


class BudgetStatus(BaseModel):
    """One SLI of one app: budget left over the period, and each burn rule's outcome."""

    sli: str
    slo: Slo
    period_error_ratio: float | None  # None: unknown (query failed) or no events
    budget_left: float | None
    rules: list[RuleOutcome]

    @property
    def firing(self) -> list[RuleOutcome]:
        return [r for r in self.rules if r.fires]

    @property
    def spent(self) -> bool:
        """The period's budget is used up (a normal production deploy waits)."""
        return self.budget_left is not None and self.budget_left <= 0

    def describe(self) -> str:
        left = "unknown" if self.budget_left is None else f"{self.budget_left * 100:.0f} %"
        return f"{self.sli} {self.slo.target:g} % over {self.slo.period_days} d: budget left {left}"


def evaluate_sli(
    sli: str,
    slo: Slo,
    ratios: Mapping[timedelta, float | None],
    *,
    rules: tuple[BurnRule, ...] = WORKBOOK_RULES,
) -> BudgetStatus:
    """Budget left and burn rules for one SLI from its error ratio per window (the period's
    ratio under `slo.period`; None where there is no data). A rule with no data on either
    window does not fire (it is not evidence of burning; the monitor's own "no data" rules
    say that a query failed)."""
    outcomes = []
    for rule in rules:
        threshold = rule.burn_rate(slo.period)
        long_ratio, short_ratio = ratios.get(rule.long_window), ratios.get(rule.short_window)
        long_rate = None if long_ratio is None else burn_rate(long_ratio, slo.share)
        short_rate = None if short_ratio is None else burn_rate(short_ratio, slo.share)
        fires = (
            long_rate is not None
            and short_rate is not None
            and long_rate > threshold
            and short_rate > threshold
        )
        outcomes.append(
            RuleOutcome(
                rule=rule,
                threshold=threshold,
                long_rate=long_rate,
                short_rate=short_rate,
                fires=fires,
            )
        )
    period_ratio = ratios.get(slo.period)
    left = None if period_ratio is None else budget_left(period_ratio, slo.share)
    return BudgetStatus(
        sli=sli, slo=slo, period_error_ratio=period_ratio, budget_left=left, rules=outcomes
    )


def duration(window: timedelta) -> str:
    """`5m`, `6h`, `30d`: also PromQL's duration syntax."""
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
