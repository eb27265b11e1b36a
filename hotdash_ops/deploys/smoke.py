"""The automated smoke test's verdict (runbook: `automated-smoke-test.sh staging`), pure.

Every endpoint in the app's inventory `smoke` list is checked, each for its expected status
and, where one is set, its latency budget; one failing endpoint never hides the others. A
check that got no answer at all ("could not check") fails the smoke test: a deploy is only
verified by answers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hotdash_ops.deploys.settle import Settling
from hotdash_ops.inventory import AppSpec
from hotdash_ops.monitor.probe import ProbeResult


def smoke_targets(spec: AppSpec, base_url: str) -> list[tuple[str, int, float | None]]:
    """(url, expected status, latency budget ms) for each smoke endpoint of `spec`."""
    base = base_url.rstrip("/")
    return [(base + check.path, check.status, check.budget_ms) for check in spec.smoke]


def _verdict(result: ProbeResult) -> str:
    if result.ok is None:
        return f"FAIL: no answer ({result.error})" if result.error else "FAIL: no answer"
    if result.status_ok is False:
        return "FAIL: wrong status"
    if result.within_budget is False:
        return "FAIL: over budget"
    return "ok"


class SmokeReport(BaseModel):
    """All endpoint results of one smoke test of one app."""

    app: str
    image: str | None = None
    results: list[ProbeResult]
    base_url: str = ""  # the app's URL; endpoints are shown relative to it
    settled: Settling | None = None  # how the wait for the machines ended, before the checks

    @property
    def passed(self) -> bool:
        """Every endpoint answered as expected in budget; an empty test proves nothing."""
        return bool(self.results) and all(r.ok is True for r in self.results)

    def failures(self) -> list[ProbeResult]:
        """The endpoints that failed or could not be checked."""
        return [r for r in self.results if r.ok is not True]

    def endpoint(self, result: ProbeResult) -> str:
        """The result's path relative to the app's URL (`/health`)."""
        base = self.base_url.rstrip("/")
        if base and result.url.startswith(base):
            return result.url[len(base) :] or "/"
        return result.url

    def _failure_phrase(self, result: ProbeResult) -> str:
        path = self.endpoint(result)
        if result.status is None:
            return f"{path} no answer"
        if result.status_ok is False:
            return f"{path} {result.status}"
        return f"{path} {result.latency_ms:.0f} ms > {result.budget_ms:.0f} ms"

    def summary(self) -> str:
        """ "smoke test passed (6/6 endpoints)" or "smoke test failed (/health 503, /app 500)"."""
        total = len(self.results)
        if self.passed:
            return f"smoke test passed ({total}/{total} endpoints)"
        if not self.results:
            return "smoke test failed (no endpoints configured)"
        text = "smoke test failed (" + ", ".join(map(self._failure_phrase, self.failures())) + ")"
        if self.settled is not None and not self.settled.settled:
            text += f"; {self.settled.describe()}"
        return text

    def table(self) -> list[dict[str, Any]]:
        """One row per endpoint, for a table artifact."""
        return [
            {
                "endpoint": self.endpoint(r),
                "expected": r.expected_status,
                "status": r.status if r.status is not None else "no answer",
                "latency ms": r.latency_ms,
                "budget ms": r.budget_ms,
                "result": _verdict(r),
            }
            for r in self.results
        ]
