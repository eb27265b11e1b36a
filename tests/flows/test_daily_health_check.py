"""daily-health-check against flysim (real HTTP) and a real Prefect server."""

from __future__ import annotations

import pytest

from flows.daily_health_check import daily_health_check
from tests.artifacts import artifact_of

pytestmark = pytest.mark.usefixtures("prefect_server")

APPS = [
    "hotdash-staging",
    "hotdash-production",
    "hotdash-agent-service",
    "hotdash-llamaindex-mcp",
    "hotdash-chatwoot",
]


async def report_of(state) -> str:
    return str((await artifact_of(state, "daily-health-check")).data)


def row_of(report: str, app: str) -> str:
    [row] = [line for line in report.splitlines() if line.startswith(f"| {app} |")]
    return row


async def test_healthy_fleet_completes_with_a_row_per_app(flysim) -> None:
    state = await daily_health_check(return_state=True)
    assert state.is_completed(), state.message
    report = await report_of(state)
    for app in APPS:
        assert "**ok**" in row_of(report, app)
    assert "supabase" in report


async def test_staging_health_503_fails_the_run_and_names_staging(flysim) -> None:
    flysim.patch_app("hotdash-staging", endpoints={"/health": {"status": 503}})
    state = await daily_health_check(return_state=True)
    assert state.is_failed()
    assert "hotdash-staging" in state.message and "503" in state.message
    assert "hotdash-production" not in state.message
    report = await report_of(state)
    assert "FAILING" in row_of(report, "hotdash-staging")
    assert "503" in row_of(report, "hotdash-staging")
    assert "**ok**" in row_of(report, "hotdash-production")


async def test_api_timing_out_shows_apps_as_unknown_never_healthy(flysim, monkeypatch) -> None:
    monkeypatch.setenv("FLY_HTTP_TIMEOUT_SECONDS", "0.5")
    for app in APPS:
        flysim.patch_app(app, fault={"mode": "timeout", "scope": "reads", "hang_seconds": 5})
    state = await daily_health_check(return_state=True)
    assert state.is_failed()
    report = await report_of(state)
    for app in APPS:
        row = row_of(report, app)
        assert "UNKNOWN" in row and "**ok**" not in row
    assert "could not" in state.message or "unknown" in state.message.lower()
