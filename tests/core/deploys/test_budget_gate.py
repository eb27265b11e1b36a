"""A spent error budget lets only a critical fix with a reason through
(hotdash_ops.deploys.budget_gate)."""

from __future__ import annotations

from datetime import timedelta

from hotdash_ops.deploys.budget_gate import check_budget
from hotdash_ops.monitor.error_budget import AppSlos
from hotdash_ops.monitor.slo import app_budget

SLOS = AppSlos(availability=99.5)
PERIOD = timedelta(days=30)


def budget(period_error_ratio: float):
    return app_budget("hotdash-production", SLOS, {"availability": {PERIOD: period_error_ratio}})


def test_a_budget_left_lets_any_deploy_go_and_says_how_much() -> None:
    check = check_budget("hotdash-production", budget(0.001), critical=False, reason=None)
    assert check.allowed and not check.spent
    assert check.message == "availability 99.5 % over 30 d: budget left 80 %"


def test_a_spent_budget_refuses_a_normal_deploy_and_a_critical_one_without_a_reason() -> None:
    spent = budget(0.006)  # 0.6 % errors against a 0.5 % budget: -20 %
    normal = check_budget("hotdash-production", spent, critical=False, reason=None)
    assert not normal.allowed and normal.spent
    assert normal.message == (
        "the error budget of hotdash-production is spent (availability 99.5 % over 30 d: "
        "budget left -20 %): only a critical fix may be deployed now (critical, with "
        "error_budget_reason)"
    )
    unexplained = check_budget("hotdash-production", spent, critical=True, reason=None)
    assert not unexplained.allowed
    assert unexplained.message.startswith(
        "error_budget_reason: the availability budget of hotdash-production is spent"
    )
    fix = check_budget("hotdash-production", spent, critical=True, reason="fixes the 5xx storm")
    assert fix.allowed and fix.spent
    assert fix.message.endswith("deployed as a critical fix: fixes the 5xx storm")


def test_no_slo_or_an_unreadable_budget_never_blocks_and_is_said() -> None:
    assert check_budget("x", None, critical=False, reason=None).message == "x has no SLO"
    unknown = check_budget("x", "query failed: 503", critical=False, reason=None)
    assert unknown.allowed and unknown.message == "unknown (query failed: 503)"
