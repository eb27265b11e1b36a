"""The runbook's Quick Reference as deployments: restart-app, app-logs, list-apps, smoke-test and
parity-check, against flysim (real HTTP, flysim-fly as a subprocess) and a real Prefect server."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.app_logs import app_logs
from flows.list_apps import list_apps
from flows.parity_check import run_parity_check
from flows.restart_app import restart_app
from flows.smoke_test import run_smoke_test
from tests.artifacts import artifact_of
from tests.conftest import ROOT
from tests.timeline import most_down_at_once

pytestmark = pytest.mark.usefixtures("prefect_server")

STAGING, PROD = "hotdash-staging", "hotdash-production"


async def table(state, key: str) -> list[dict[str, Any]]:
    found = await artifact_of(state, key)
    return json.loads(found.data) if isinstance(found.data, str) else found.data


def audit(state_dir: Path) -> list[dict[str, Any]]:
    path = state_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def kinds(flysim) -> list[str]:
    return [m["kind"] for m in flysim.state()["mutations"]]


def started_machines(flysim, app: str) -> list[str]:
    return sorted(m["id"] for m in flysim.state()["apps"][app]["machines"]
                  if m["state"] == "started")  # fmt: skip


def restarted(flysim) -> list[str]:
    return [m["detail"]["machine"] for m in flysim.state()["mutations"]
            if m["kind"] == "machine_restart"]  # fmt: skip


# -- restart-app ---------------------------------------------------------------------------


async def test_restart_is_rolling_locked_audited_and_verified_by_health(flysim) -> None:
    state_dir = Path(os.environ["HOTDASH_STATE_DIR"])
    state = await restart_app(app=STAGING, requested_by="bob", return_state=True)
    assert state.is_completed(), state.message
    assert state.message.startswith(f"{STAGING} restarted by bob (restart requested); healthy: ")
    assert "answered 200" in state.message
    # `fly apps restart`: flyctl restarts each started machine through the Machines API.
    assert sorted(restarted(flysim)) == started_machines(flysim, STAGING)
    [record] = audit(state_dir)
    assert (record["action"], record["target"], record["actor"]) == ("restart", STAGING, "bob")
    assert record["detail"]["outcome"] == "ok"


async def test_production_asks_for_a_reason_and_unknown_apps_are_refused(flysim) -> None:
    state_dir = Path(os.environ["HOTDASH_STATE_DIR"])
    refused = await restart_app(app=PROD, requested_by="bob", return_state=True)
    assert refused.is_failed()
    assert refused.message.endswith(f"reason: required to restart production ({PROD})")
    unknown = await restart_app(app="hotdash-nope", requested_by="bob", return_state=True)
    assert unknown.is_failed() and "app: app 'hotdash-nope' is not in the inventory" in (
        unknown.message
    )
    assert kinds(flysim) == [] and audit(state_dir) == []
    done = await restart_app(
        app=PROD, requested_by="bob", reason="memory leak after v4", return_state=True
    )
    assert done.is_completed(), done.message
    assert audit(state_dir)[-1]["reason"] == "memory leak after v4"


async def test_restart_that_does_not_bring_health_back_fails_saying_what_it_answered(
    flysim,
) -> None:
    state_dir = Path(os.environ["HOTDASH_STATE_DIR"])
    flysim.patch_app(STAGING, endpoints={"/health": {"status": 503}})
    state = await restart_app(app=STAGING, requested_by="bob", verify_seconds=0, return_state=True)
    # flyctl waits for the restarted machine's checks, which never pass: it gives up, and the
    # run says so with what /health answers.
    assert state.is_failed()
    assert state.message.startswith(
        f"{STAGING}: restart by bob (restart requested) FAILED: `fly apps restart {STAGING}` "
        "exited 1: "
        "Error: timeout reached waiting for health checks to pass for machine "
    )
    assert "/health: " in state.message and "answered 503" in state.message
    assert sorted(restarted(flysim)) == started_machines(flysim, STAGING)
    [record] = audit(state_dir)
    assert (record["action"], record["detail"]["outcome"]) == ("restart", "failed")


async def test_a_healthy_restart_of_production_takes_its_machines_one_at_a_time(flysim) -> None:
    machines = started_machines(flysim, PROD)
    assert len(machines) == 2
    state = await restart_app(app=PROD, requested_by="bob", reason="memory leak after v4",
                              return_state=True)  # fmt: skip
    assert state.is_completed(), state.message
    assert sorted(restarted(flysim)) == machines
    # flyctl waits for each machine's checks before the next: never both down at once.
    assert most_down_at_once(flysim.state()["apps"][PROD]["timeline"]) == 1


# -- app-logs ------------------------------------------------------------------------------


async def test_last_lines_filtered_by_text_machine_and_region(flysim) -> None:
    everything = await app_logs(app=STAGING, since_minutes=24 * 60, return_state=True)
    assert everything.is_completed(), everything.message
    rows = await table(everything, f"app-logs-{STAGING}")
    assert [r["message"] for r in rows][-1] == "GET /app 200 84ms"  # oldest first
    assert len(rows) == 5 and set(rows[0]) == {"time", "region", "instance", "level", "message"}
    assert everything.message.startswith(f"{STAGING}: last 5 of 5 line(s) from ")

    errors = await app_logs(app=STAGING, since_minutes=24 * 60, filter="ERROR",
                            return_state=True)  # fmt: skip
    [row] = await table(errors, f"app-logs-{STAGING}")
    assert "Shopify webhook signature mismatch" in row["message"]
    assert "last 1 of 1 line(s) matching 'ERROR'" in errors.message

    machine = row["instance"]
    mine = await app_logs(app=STAGING, since_minutes=24 * 60, instance=machine, region="ord",
                          lines=2, return_state=True)  # fmt: skip
    assert len(await table(mine, f"app-logs-{STAGING}")) == 2
    assert f"last 2 of 5 line(s) of {machine} in ord" in mine.message
    elsewhere = await app_logs(app=STAGING, since_minutes=24 * 60, region="iad",
                               return_state=True)  # fmt: skip
    assert "last 0 of 0 line(s) in iad" in elsewhere.message


async def test_a_long_range_is_paged_with_next_token_and_the_cap_is_said(
    flysim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    logs = [{"message": f"line {i:03d}", "minutes_ago": 300 - i} for i in range(300)]
    httpx.post(f"{flysim.url}/_sim/apps", json={"name": "busy-app", "machines": [{}],
               "logs": logs}, timeout=10).raise_for_status()  # fmt: skip
    # The form offers the inventory's apps: busy-app is one.
    data = yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())
    data["apps"].append({"name": "busy-app", "role": "background"})
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("HOTDASH_INVENTORY", str(tmp_path / "inventory.yaml"))
    state = await app_logs(app="busy-app", since_minutes=400, return_state=True)
    rows = await table(state, "app-logs-busy-app")
    assert [r["message"] for r in rows] == [f"line {i:03d}" for i in range(200, 300)]
    assert "last 100 of 300 line(s)" in state.message
    assert "300 log lines read over 4 page(s)" in state.message
    capped = await app_logs(app="busy-app", since_minutes=400, max_pages=2, return_state=True)
    assert "200 log lines read, stopped at the cap of 2 pages" in capped.message


# -- list-apps -----------------------------------------------------------------------------


async def test_every_app_of_the_org_against_the_inventory(
    flysim, tmp_path: Path, monkeypatch
) -> None:
    import httpx

    httpx.post(f"{flysim.url}/_sim/apps", json={"name": "forgotten-app", "region": "iad",
               "machines": [{"state": "stopped"}]}, timeout=10).raise_for_status()  # fmt: skip
    data = yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())
    data["apps"].append({"name": "hotdash-gone", "role": "web"})
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inventory))

    state = await list_apps(return_state=True)
    assert state.is_completed(), state.message
    assert state.message == (
        "6 apps in personal: 5 in the inventory; not in it: forgotten-app; "
        "missing on Fly: hotdash-gone"
    )
    rows = {r["app"]: r for r in await table(state, "list-apps")}
    assert rows[PROD] == {"app": PROD, "status": "deployed", "machines": "2 started",
                          "regions": "2 ord", "inventory": "listed (production, web)"}  # fmt: skip
    assert rows["forgotten-app"]["inventory"] == "NOT IN INVENTORY"
    assert (rows["forgotten-app"]["machines"], rows["forgotten-app"]["regions"]) == (
        "1 stopped",
        "1 iad",
    )
    assert rows["hotdash-gone"]["status"] == "not on Fly"
    assert rows["hotdash-agent-service"]["inventory"] == "listed (background)"


# -- smoke-test and parity-check -----------------------------------------------------------


async def test_smoke_test_of_any_environment_with_the_deploy_flows_task(flysim) -> None:
    staging = await run_smoke_test(return_state=True)
    assert staging.is_completed(), staging.message
    assert staging.message.startswith(f"{STAGING} (staging): smoke test passed")
    assert len(await table(staging, f"smoke-{STAGING}")) == 6  # every endpoint of the inventory

    flysim.patch_app(PROD, endpoints={"/app": {"status": 500}})
    production = await run_smoke_test(environment="production", return_state=True)
    assert production.is_failed()
    assert production.message == f"{PROD} (production): smoke test failed (/app 500)"
    unknown = await run_smoke_test(environment="qa", return_state=True)
    assert unknown.is_failed()
    assert "environment: environment 'qa' is not in the inventory" in unknown.message
    assert kinds(flysim) == []


async def test_parity_check_on_demand_is_deploy_stagings_check(
    flysim, tmp_path: Path, monkeypatch
) -> None:
    ok = await run_parity_check(return_state=True)
    assert ok.is_completed(), ok.message
    assert ok.message == "parity: no blocking difference, 4 info"
    assert "**Deploy may go on**" in str((await artifact_of(ok, f"parity-{STAGING}")).data)

    # Production down is shown, never blocking (a hotfix must still reach staging).
    flysim.patch_app(PROD, endpoints={"/health": {"status": 503}})
    down = await run_parity_check(return_state=True)
    assert down.is_completed(), down.message
    assert down.message.startswith(
        "parity: no blocking difference, 5 info; /health failing: production (503 (expected 200)"
    )

    # What no deploy fixes blocks: a required secret production has and staging lacks.
    data = yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())
    data["deploy"]["required_secrets"] = ["SENTRY_DSN"]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inventory))
    blocked = await run_parity_check(return_state=True)
    assert blocked.is_failed()
    assert blocked.message.startswith(
        "parity: 1 blocking (required secrets), 5 info; /health failing: production"
    )
    assert blocked.message.endswith("; a deploy to staging would stop here")
    assert kinds(flysim) == []
