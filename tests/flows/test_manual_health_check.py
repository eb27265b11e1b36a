"""manual-health-check against flysim (real HTTP), a real Prefect server, and a real local
webhook receiver behind the `hotdash-alerts` notification block (which it must never use)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from prefect.exceptions import ParameterBindError, ParameterTypeError

from flows.manual_health_check import manual_health_check
from tests.artifacts import artifact_of
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("prefect_server")

STAGING = "hotdash-staging"


async def check(**params: Any):
    return await manual_health_check(return_state=True, **params)


async def artifact_rows(state, key: str = "manual-health-check") -> dict[str, dict[str, Any]]:
    table = await artifact_of(state, key)
    assert table.type == "table"
    data = json.loads(table.data) if isinstance(table.data, str) else table.data
    return {row["app"]: row for row in data}


async def test_one_app_or_all_reported_with_error_lines_and_database_never_alerted(
    flysim, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = Path(os.environ["HOTDASH_STATE_DIR"])
    ok = await check(app="hotdash-production")
    assert ok.is_completed(), ok.message
    rows = await artifact_rows(ok)
    assert list(rows) == ["hotdash-production"]
    row = rows["hotdash-production"]
    assert row["health status"] == "200" and row["machine states"] == "2 started"
    for rule in ("machines", "health", "cpu", "memory", "response_time", "error_rate"):
        assert row[rule] == "pass", rule

    assert row["error logs"] == "none"
    assert "2 dependencies ok" in ok.message  # supabase and shopify, with their keys

    flysim.patch_app(STAGING, endpoints={"/health": {"status": 503}})
    bad = await check(app=STAGING)
    assert bad.is_failed()
    assert "hotdash-staging: machines, health" in bad.message
    assert (await artifact_rows(bad))[STAGING]["error logs"] == "1 error line"
    details = str((await artifact_of(bad, "manual-health-check-details")).data)
    assert "**ok** supabase: answered 200" in details
    assert "Shopify webhook signature mismatch" in details

    flysim.patch_app(STAGING, endpoints={"/health": {"status": 200}})
    monkeypatch.setenv("SUPABASE_URL", f"{flysim.url}/_ext/supabase/gone/")
    supabase_down = await check(app=STAGING)
    assert supabase_down.is_failed()
    assert "dependencies: supabase: answered 404 (expected 200)" in supabase_down.message
    monkeypatch.setenv("SUPABASE_URL", f"{flysim.url}/_ext/supabase/rest/v1/")
    all_apps = await check()
    assert len(await artifact_rows(all_apps)) == 5
    assert receiver.messages == []
    assert not (state_dir / "alerts.json").exists()


async def test_no_traffic_is_named_not_failed_and_an_auto_stopped_app_is_not_woken(
    flysim, receiver: Receiver
) -> None:
    # The monitor's engine, so the monitor's semantics (issue 12).
    flysim.patch_app("hotdash-llamaindex-mcp", metrics={"rps": 0})
    flysim.stop_machines("hotdash-agent-service")
    state = await check()

    assert state.is_completed(), state.message
    assert "1 with no traffic (hotdash-llamaindex-mcp)" in state.message
    rows = await artifact_rows(state)
    assert rows["hotdash-llamaindex-mcp"]["error_rate"] == "no traffic"
    asleep = rows["hotdash-agent-service"]
    assert (asleep["health"], asleep["health status"]) == ("pass", "not requested")
    assert [m for m in flysim.state()["mutations"] if m["kind"] == "machine_start"] == []
    assert receiver.messages == []


async def test_bad_parameters_are_refused_and_there_is_no_mode(flysim) -> None:
    with pytest.raises(ParameterTypeError, match="not a Fly app name"):
        await manual_health_check(app="Hotdash_Staging")
    with pytest.raises(ParameterTypeError, match="window_minutes"):
        await manual_health_check(window_minutes=0)
    # The monitor's old `mode` switch is gone from both flows: nothing to flip in a form.
    with pytest.raises(ParameterBindError, match="unexpected keyword argument .mode."):
        await manual_health_check(mode="monitor")
    from flows.infrastructure_monitor import infrastructure_monitor

    with pytest.raises(ParameterBindError, match="unexpected keyword argument .mode."):
        await infrastructure_monitor(mode="health-check")


async def test_unknown_app_is_refused_before_any_check(flysim) -> None:
    state = await check(app="hotdash-nope")
    assert state.is_failed()
    assert "app 'hotdash-nope' is not in the inventory" in state.message


async def test_the_database_is_asked_with_its_key_from_the_environment_or_a_secret_block(
    flysim, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.blocks.system import Secret

    from tests.conftest import DEPENDENCY_KEYS

    # A refused key is the database answering 401, like Supabase's gateway: a failure.
    monkeypatch.setenv("SUPABASE_ANON_KEY", "not-the-project-key")
    refused = await check(app=STAGING)
    assert refused.is_failed()
    assert "dependencies: supabase: answered 401 (expected 200)" in refused.message
    # No key configured at all: not asked (it would only be refused), and never healthy.
    monkeypatch.delenv("SUPABASE_ANON_KEY")
    unset = await check(app=STAGING)
    assert unset.is_failed()
    assert (
        "supabase: not checked (header apikey: neither SUPABASE_ANON_KEY is set nor a Secret "
        "block supabase-anon-key)"
    ) in unset.message
    # The Secret block named in the inventory instead of the environment.
    await Secret(value=DEPENDENCY_KEYS["SUPABASE_ANON_KEY"]).save(  # type: ignore[misc]
        "supabase-anon-key", overwrite=True
    )
    try:
        from_block = await check(app=STAGING)
        assert from_block.is_completed(), from_block.message
        assert "2 dependencies ok" in from_block.message
    finally:
        from prefect import get_client

        async with get_client() as client:
            block = await client.read_block_document_by_name("supabase-anon-key", "secret")
            await client.delete_block_document(block.id)
