"""daily-health-check against flysim (real HTTP) and a real Prefect server: the monitor's rules
now, the night's peaks, alerts and error lines, and one notification when it fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flows.daily_health_check import daily_health_check
from flows.infrastructure_monitor import infrastructure_monitor
from tests.artifacts import artifact_of
from tests.webhook_receiver import Receiver

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
    """The app's row in the table of every app now (after the verdict and what is wrong)."""
    every = report.split("## Every app now", 1)[1]
    return next(line for line in every.splitlines() if line.startswith(f"| {app} |"))


async def test_healthy_fleet_completes_with_a_row_per_app_and_the_night(
    flysim, receiver: Receiver
) -> None:
    # A night that holds the scenario's 10 hours of log lines whatever time the test runs
    # (the default, 18:00 yesterday, is only 7 hours back at 01:00).
    starts = (datetime.now(ZoneInfo("America/Los_Angeles")) - timedelta(hours=11)).strftime("%H:%M")
    state = await daily_health_check(night_starts=starts, return_state=True)
    assert state.is_completed(), state.message
    assert state.message == "all 5 apps and 2 dependencies healthy"
    report = await report_of(state)
    assert "Nothing is wrong." in report.split("## Every app now", 1)[0]
    for app in APPS:
        assert "**ok**" in row_of(report, app)
    assert "| supabase | **ok** | supabase: answered 200" in report
    assert "| shopify | **ok** | shopify: answered 200" in report
    # The night: from `starts` yesterday, Los Angeles time, peaks and the error lines over it.
    assert "## Overnight peaks (" in report and f" {starts} P" in report
    assert "| hotdash-staging | 18.0 % | 52.0 % | 340 ms | 0.20 % | none |" in report
    assert "No alert fired or resolved overnight." in report
    # The scenario's 5 lines of the last 10 hours, one an error; the second page is empty.
    assert "- **hotdash-staging**: 1 error line(s) in 5 log lines (2 page(s))" in report
    assert "Shopify webhook signature mismatch" in report
    assert receiver.messages == []  # a healthy morning tells nobody


async def test_no_traffic_and_an_auto_stopped_app_as_the_monitor_judges_them(
    flysim, receiver: Receiver
) -> None:
    # The monitor's engine, so the monitor's semantics: hotdash-llamaindex-mcp gets no requests
    # any more ("no traffic": not healthy, not a problem); hotdash-agent-service is
    # auto-stopped and is judged from its machine, not woken by a /health request.
    flysim.patch_app("hotdash-llamaindex-mcp", metrics={"rps": 0})
    flysim.stop_machines("hotdash-agent-service")
    state = await daily_health_check(return_state=True)

    assert state.is_completed(), state.message
    assert state.message == (
        "4 of 5 apps and 2 dependencies healthy, 1 with no traffic (hotdash-llamaindex-mcp)"
    )
    report = await report_of(state)
    quiet = row_of(report, "hotdash-llamaindex-mcp")
    assert "**no traffic**" in quiet and "| no traffic | no traffic | 0 |" in quiet
    asleep = row_of(report, "hotdash-agent-service")
    assert (
        "**ok**" in asleep
        and "| 1 stopped |" in asleep
        and "not requested (auto-stopped" in (asleep)
    )
    assert [m for m in flysim.state()["mutations"] if m["kind"] == "machine_start"] == []
    assert receiver.messages == []


async def test_staging_503_fails_the_run_names_staging_and_notifies_once(
    flysim, receiver: Receiver
) -> None:
    flysim.patch_app("hotdash-staging", endpoints={"/health": {"status": 503}})
    state = await daily_health_check(return_state=True)
    assert state.is_failed()
    assert "hotdash-staging: health: /health answered 503 (expected 200)" in state.message
    assert "hotdash-production" not in state.message
    report = await report_of(state)
    # First the verdict and what is wrong, then every app's figures.
    lead = report.split("## Every app now", 1)[0]
    assert lead.startswith("# Morning health check: FAILING\n\n**FAILING: ")
    assert "| hotdash-staging | **FAILING** | health: /health answered 503 (expected 200) |" in (
        lead
    )
    assert "hotdash-production" not in lead
    assert "FAILING" in row_of(report, "hotdash-staging")
    assert "503" in row_of(report, "hotdash-staging")
    assert "**ok**" in row_of(report, "hotdash-production")
    [message] = receiver.messages
    assert message["subject"] == "Morning health check: FAILING"
    assert state.message in message["body"]
    run_id = str(state.state_details.flow_run_id)
    assert f"/runs/flow-run/{run_id}" in message["body"]


async def test_api_timing_out_shows_apps_as_unknown_never_healthy(
    flysim, monkeypatch, receiver: Receiver
) -> None:
    monkeypatch.setenv("FLY_HTTP_TIMEOUT_SECONDS", "0.5")
    for app in APPS:
        flysim.patch_app(app, fault={"mode": "timeout", "scope": "reads", "hang_seconds": 5})
    state = await daily_health_check(return_state=True)
    assert state.is_failed()
    report = await report_of(state)
    for app in APPS:
        row = row_of(report, app)
        assert "UNKNOWN" in row and "**ok**" not in row
    assert "no data" in state.message
    assert "- **hotdash-staging**: logs could not be read (FlyUnavailable" in report
    assert [m["subject"] for m in receiver.messages] == ["Morning health check: UNKNOWN"]


async def test_the_nights_alerts_are_in_the_report(flysim, receiver: Receiver) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    # Two monitor runs with CPU high: the alert fires; then it resolves.
    flysim.patch_app("hotdash-staging", metrics={"cpu_pct": 93.5})
    for _ in range(2):
        assert (await infrastructure_monitor(return_state=True)).is_completed()
    state = await daily_health_check(since=since, return_state=True)
    report = await report_of(state)
    assert "## Overnight alerts (1 change(s))" in report
    assert "| hotdash-staging | cpu (warning) | fired | cpu: 93.5 % > 80 % |" in report
    assert "Still firing now:" in report and "hotdash-staging** cpu firing (warning)" in report
    assert "CPU 93.5 %" not in report  # the peak is in its own table
    assert "| hotdash-staging | 93.5 % |" in report and "cpu_pct > 80" in report

    flysim.patch_app("hotdash-staging", metrics={"cpu_pct": 20.0})
    assert (await infrastructure_monitor(return_state=True)).is_completed()
    later = await report_of(await daily_health_check(since=since, return_state=True))
    assert "## Overnight alerts (2 change(s))" in later
    assert "| cpu (warning) | resolved | cpu: 20.0 % <= 80 % |" in later
    assert "Still firing now:" not in later


async def test_since_in_the_future_is_refused_before_any_read(flysim) -> None:
    state = await daily_health_check(
        since=datetime.now(UTC) + timedelta(hours=1), return_state=True
    )
    assert state.is_failed()
    assert "since: " in state.message and "is not in the past" in state.message
    assert flysim.state()["mutations"] == []
