"""monthly-cost-report from real weekly reviews (flysim cost-known scenario, real Prefect
server), the clock moved through a month."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.enable_auto_stop import enable_auto_stop
from flows.monthly_cost_report import CHART_KEY, REPORT_KEY, TREND_KEY, monthly_cost_report
from flows.weekly_cost_review import weekly_cost_review
from hotdash_ops.cost import snapshots as cost_snapshots
from tests.flows.cost_sim import (  # noqa: F401  (fixtures)
    artifacts_of,
    cost_sim_fixture,
    cost_sim_server_fixture,
    prices,
)

pytestmark = pytest.mark.usefixtures("prefect_server")

# Fridays 9 AM in Los Angeles (the inventory's time zone), then the 1st of the next month.
REVIEWS = [datetime(2026, 3, d, 17, 0, tzinfo=UTC) for d in (6, 13, 20)]
REPORT_AT = datetime(2026, 4, 1, 16, 0, tzinfo=UTC)


def at(monkeypatch, when: datetime) -> None:
    monkeypatch.setattr(cost_snapshots, "utcnow", lambda: when)


async def test_month_trend_chart_and_recommendations_taken_or_left(cost_sim, monkeypatch) -> None:
    at(monkeypatch, REVIEWS[0])
    assert (await weekly_cost_review(return_state=True)).is_completed()
    cost_sim.patch_app(
        "hotdash-staging",
        machines_add=[{"state": "started", "cpu_kind": "shared", "cpus": 1, "memory_mb": 256}],
    )
    at(monkeypatch, REVIEWS[1])
    assert (await weekly_cost_review(return_state=True)).is_completed()
    # The agent service's auto-stop recommendation is acted on between two reviews.
    assert (
        await enable_auto_stop(dry_run=False, requested_by="Dana Ops", return_state=True)
    ).is_completed()
    at(monkeypatch, REVIEWS[2])
    assert (await weekly_cost_review(return_state=True)).is_completed()

    at(monkeypatch, REPORT_AT)
    state = await monthly_cost_report(return_state=True)  # default: the month before
    assert state.is_completed(), state.message
    artifacts = await artifacts_of(state)

    trend = {r["app"]: r for r in artifacts[TREND_KEY]}
    dates = ["2026-03-06", "2026-03-13", "2026-03-20"]
    p = prices()
    staging = p.presets["shared"][1] + 0.25 * p.extra_ram_per_gb_month
    staging += p.stopped_rootfs_gb * p.stopped_rootfs_per_gb_month + 8 * p.volume_per_gb_month
    grown = staging + p.presets["shared"][1]
    assert [trend["hotdash-staging"][d] for d in dates] == [
        round(staging, 2), round(grown, 2), round(grown, 2)
    ]  # fmt: skip
    assert [trend["hotdash-old-preview"][d] for d in dates] == [0.0, 0.0, 0.0]
    assert trend["TOTAL"]["2026-03-13"] - trend["TOTAL"]["2026-03-06"] == pytest.approx(
        p.presets["shared"][1], abs=0.011
    )

    report = artifacts[REPORT_KEY]
    assert "# Monthly cost report: 2026-03" in report
    assert "| app | 2026-03-06 | 2026-03-13 | 2026-03-20 | change |" in report
    assert f"| hotdash-staging | ${staging:,.2f} | ${grown:,.2f} | ${grown:,.2f} | +$" in report
    assert "![Estimated monthly cost by app, 2026-03](data:image/png;base64,iVBORw0KGgo" in report

    chart = Path(os.environ["HOTDASH_STATE_DIR"]) / "reports" / "monthly-cost-2026-03.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(chart) in artifacts[CHART_KEY] and "file://" in artifacts[CHART_KEY]

    lines = report.splitlines()
    [autostop] = [x for x in lines if "hotdash-agent-service" in x and "enable auto-stop" in x]
    assert autostop.startswith("| **taken** |") and "autostop.enable by Dana Ops" in autostop
    assert "| 2026-03-06 |" in autostop  # first made at the first review
    [delete] = [x for x in lines if "delete unattached volume vol_stgold000000001" in x]
    assert delete.startswith("| **left** |")
    assert "still recommended in the latest review" in delete
    assert "1 taken" in state.message and "left" in state.message


async def test_a_month_without_reviews_says_so(cost_sim, monkeypatch) -> None:
    at(monkeypatch, REVIEWS[0])
    assert (await weekly_cost_review(return_state=True)).is_completed()
    at(monkeypatch, REPORT_AT)
    state = await monthly_cost_report(month="2026-01", return_state=True)
    assert state.is_completed()
    assert state.message == "2026-01: no weekly cost review ran, nothing to report"
    artifacts = await artifacts_of(state)
    assert CHART_KEY not in artifacts
    assert "No weekly cost review ran in 2026-01" in artifacts[REPORT_KEY]
    assert not (Path(os.environ["HOTDASH_STATE_DIR"]) / "reports").exists()


async def test_a_malformed_month_is_refused(cost_sim) -> None:
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match="month"):
        await monthly_cost_report(month="2026-13")
