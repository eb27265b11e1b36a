"""Production Deployment and the error budget: while production's budget is spent, only a
critical fix may go. This is the example error budget policy of Google's SRE workbook
(https://sre.google/workbook/error-budget-policy/): a service over its budget halts changes
and releases other than P0 issues and security fixes until it is back within its SLO.

Checked before anyone is asked, and again shown in the approval form:

* the app has no SLO: nothing to check;
* its budgets could not be read: the deploy goes on and the form says "unknown" (a failed
  read is not proof of a spent budget, and never shown as a healthy one);
* a budget is left: the form shows how much;
* a budget is spent (budget left <= 0 over the SLO period): a normal deploy is refused; a
  `critical` one needs `error_budget_reason` (audited, in the form).
"""

from __future__ import annotations

from pydantic import BaseModel

from hotdash_ops.monitor.slo import AppBudget


class BudgetCheck(BaseModel):
    """Whether the budget lets the deploy go, and the line the approval form shows."""

    allowed: bool
    spent: bool
    message: str


def check_budget(
    app: str,
    budget: AppBudget | str | None,
    *,
    critical: bool,
    reason: str | None,
) -> BudgetCheck:
    """The rules of the module docstring."""
    if budget is None:
        return BudgetCheck(allowed=True, spent=False, message=f"{app} has no SLO")
    if isinstance(budget, str):
        return BudgetCheck(allowed=True, spent=False, message=f"unknown ({budget})")
    state = budget.describe()
    if not budget.spent:
        return BudgetCheck(allowed=True, spent=False, message=state)
    spent = ", ".join(s.sli for s in budget.spent)
    if not critical:
        return BudgetCheck(
            allowed=False,
            spent=True,
            message=(
                f"the error budget of {app} is spent ({state}): only a critical fix may be "
                "deployed now (critical, with error_budget_reason)"
            ),
        )
    if not reason:
        return BudgetCheck(
            allowed=False,
            spent=True,
            message=(
                f"error_budget_reason: the {spent} budget of {app} is spent ({state}); say why "
                "this critical fix must go now"
            ),
        )
    return BudgetCheck(
        allowed=True,
        spent=True,
        message=f"SPENT ({state}); deployed as a critical fix: {reason}",
    )
