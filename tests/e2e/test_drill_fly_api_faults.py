"""Drill: Fly's API misbehaves (flysim answers 500, 429 or hangs), for reads and for mutations.

Flows run against flysim over real HTTP (and `flysim-fly` as flyctl) with a real Prefect server.

* Reads retry with exponential backoff (hotdash_ops/fly/http.py: 4 attempts, waits 0.5, 1,
  2 s): a fault that clears after three failed answers costs ~3.5 s and the app is healthy;
  a fault that stays leaves the app UNKNOWN, never "ok". (The hanging read is drilled by
  tests/flows/test_daily_health_check.py::test_api_timing_out_shows_apps_as_unknown_never_healthy.)
* A mutation is sent once. The fault is armed for ONE answer (`times: 1`), so a retry would
  reach flysim and be applied: flysim's `mutations` log stays empty, for a Machines API
  mutation (manage-volumes extend) and for a flyctl command (scale-app count). The run fails,
  saying what failed, and the audit log records the failed attempt.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from flows.daily_health_check import daily_health_check
from flows.manage_volumes import manage_volumes
from flows.scale_app import scale_app
from tests.artifacts import artifact_of

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_server")]

APP = "hotdash-staging"
VOLUME = "vol_staging0old0data1"  # 1 GB, unattached
OTHERS = ["hotdash-production", "hotdash-agent-service", "hotdash-llamaindex-mcp"]
FIRST_WAIT = 0.5  # the default FLY_HTTP_BACKOFF_SECONDS
BACKOFF_SECONDS = FIRST_WAIT * (1 + 2 + 4)  # the waits after three failed reads


async def health_row(state: Any, app: str) -> str:
    report = await artifact_of(state, "daily-health-check")
    # The app's row in the table of every app now (after the verdict and what is wrong; the
    # night's peaks table follows).
    every = str(report.data).split("## Every app now", 1)[1]
    rows = [line for line in every.splitlines() if line.startswith(f"| {app} |")]
    assert rows, report.data
    row = rows[0]
    return row


def audit_records(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "state" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("mode", ["500", "429"])
async def test_a_read_fault_that_clears_is_retried_with_backoff(
    flysim, monkeypatch, mode: str
) -> None:
    monkeypatch.setenv("FLY_HTTP_BACKOFF_SECONDS", str(FIRST_WAIT))  # the real waits
    flysim.patch_app(APP, fault={"mode": mode, "scope": "reads", "times": 3})
    started = time.monotonic()
    state = await daily_health_check(return_state=True)
    elapsed = time.monotonic() - started

    assert state.is_completed(), state.message
    assert "**ok**" in await health_row(state, APP)
    assert flysim.state()["apps"][APP]["fault"] is None  # all three failures were answered
    assert elapsed >= BACKOFF_SECONDS, f"no backoff: {elapsed:.2f} s"


# Both statuses: with the tests' short backoff (tests/conftest.py) the retries cost under a
# second (429 forever is also tests/core/fly/test_clients.py).
@pytest.mark.parametrize("mode", ["500", "429"])
async def test_a_read_fault_that_stays_leaves_the_app_unknown_never_ok(flysim, mode: str) -> None:
    flysim.patch_app(APP, fault={"mode": mode, "scope": "reads"})
    state = await daily_health_check(return_state=True)

    assert state.is_failed()
    assert APP in (state.message or "")
    row = await health_row(state, APP)
    assert "UNKNOWN" in row and "**ok**" not in row
    # The other apps' machines are still read (their fleet-wide metrics query includes the
    # faulted app in flysim, so those are "no data": UNKNOWN as well, never "ok").
    for other in OTHERS:
        row = await health_row(state, other)
        assert " started |" in row and "**ok**" not in row, row
    assert flysim.state()["apps"][APP]["fault"]["mode"] == mode  # still failing: no guess


MUTATION_FAULTS = [
    pytest.param({"mode": "500"}, "flysim fault injected: 500", id="500"),
    pytest.param({"mode": "429"}, "flysim fault injected: 429", id="429"),
    pytest.param({"mode": "timeout", "hang_seconds": 2}, "timed out", id="hang"),
]


@pytest.mark.parametrize(("fault", "said"), MUTATION_FAULTS)
async def test_a_machines_api_mutation_that_fails_is_never_sent_again(
    flysim, monkeypatch, tmp_path: Path, fault: dict[str, Any], said: str
) -> None:
    monkeypatch.setenv("FLY_HTTP_TIMEOUT_SECONDS", "0.5")
    flysim.patch_app(APP, fault={**fault, "scope": "mutations", "times": 1})

    state = await manage_volumes(
        action="extend", app=APP, volume_id=VOLUME, size_gb=2, return_state=True
    )
    time.sleep(fault.get("hang_seconds", 0))  # a hung answer has come back by now

    assert state.is_failed()
    assert said in (state.message or ""), state.message
    sim = flysim.state()
    assert sim["apps"][APP]["fault"] is None  # the one armed failure was used
    assert [m for m in sim["mutations"] if m["app"] == APP] == []  # and nothing retried it
    assert {v["id"]: v["size_gb"] for v in sim["apps"][APP]["volumes"]} == {VOLUME: 1}
    [record] = audit_records(tmp_path)
    assert record["action"] == "volume.extend" and record["detail"]["outcome"] == "failed"
    assert flysim.token not in json.dumps(record)


@pytest.mark.parametrize(("fault", "said"), MUTATION_FAULTS)
async def test_a_flyctl_mutation_that_fails_is_never_run_again(
    flysim, monkeypatch, tmp_path: Path, fault: dict[str, Any], said: str
) -> None:
    monkeypatch.setenv("FLYSIM_CLI_TIMEOUT", "0.5")  # flyctl's own request timeout
    flysim.patch_app(APP, fault={**fault, "scope": "mutations", "times": 1})

    state = await scale_app(app=APP, count=2, return_state=True)
    time.sleep(fault.get("hang_seconds", 0))

    assert state.is_failed()
    assert "scale count failed (exit 1): Error: " in (state.message or ""), state.message
    assert said in (state.message or ""), state.message
    sim = flysim.state()
    assert sim["apps"][APP]["fault"] is None
    assert [m for m in sim["mutations"] if m["app"] == APP] == []
    assert len(sim["apps"][APP]["machines"]) == 1
    [record] = audit_records(tmp_path)
    assert record["action"] == "scale.count" and record["detail"]["outcome"] == "failed"
