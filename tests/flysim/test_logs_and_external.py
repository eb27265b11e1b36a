"""The logs API paged over a time range (flysim and hotdash_ops' LogsClient), and outside
services that require their key (Supabase's `apikey`, Shopify's access token)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from hotdash_ops.fly.logs import LogsClient
from tests.flysim.conftest import TOKEN, Sim

APP = "paged-app"


def make_app_with_logs(sim: Sim, lines: int) -> None:
    logs = [
        {
            "message": f"line {i:03d}",
            "level": "error" if i % 10 == 0 else "info",
            "minutes_ago": lines - i,
        }  # fmt: skip
        for i in range(lines)
    ]
    sim.ctl.post(
        "/_sim/apps", json={"name": APP, "machines": [{}], "logs": logs}
    ).raise_for_status()


def test_without_a_token_the_newest_page_with_one_the_oldest_after_it(sim: Sim) -> None:
    make_app_with_logs(sim, 250)
    newest = sim.api.get(f"/api/v1/apps/{APP}/logs").json()
    assert [e["attributes"]["message"] for e in newest["data"]][0] == "line 150"
    start = datetime.now(UTC) - timedelta(minutes=251)
    token = str(int(start.timestamp() * 1e9))
    first = sim.api.get(f"/api/v1/apps/{APP}/logs", params={"next_token": token}).json()
    messages = [e["attributes"]["message"] for e in first["data"]]
    assert (len(messages), messages[0], messages[-1]) == (100, "line 000", "line 099")
    second = sim.api.get(
        f"/api/v1/apps/{APP}/logs", params={"next_token": first["meta"]["next_token"]}
    ).json()
    assert second["data"][0]["attributes"]["message"] == "line 100"


async def test_client_reads_a_time_range_page_by_page_and_says_when_it_stopped(sim: Sim) -> None:
    make_app_with_logs(sim, 250)
    now = datetime.now(UTC)
    async with LogsClient(base_url=sim.url, token=TOKEN) as client:
        # Lines 20..229 are 230..21 minutes old.
        window = await client.between(
            APP, now - timedelta(minutes=230, seconds=30), now - timedelta(minutes=20, seconds=30)
        )
        assert window.complete and window.pages == 3
        got = [e.message for e in window.entries]
        assert (len(got), got[0], got[-1]) == (210, "line 020", "line 229")
        capped = await client.between(APP, now - timedelta(hours=5), now, max_pages=2)
        assert not capped.complete and capped.pages == 2 and len(capped.entries) == 200
        assert capped.describe(2) == (
            "200 log lines read, stopped at the cap of 2 pages (later lines of the range not read)"
        )


def test_supabase_and_shopify_answer_401_without_their_key(sim: Sim) -> None:
    bare = sim.ctl.get("/_ext/supabase/rest/v1/")
    assert bare.status_code == 401
    assert bare.json()["message"] == "No API key found in request"
    wrong = sim.ctl.get("/_ext/supabase/rest/v1/", headers={"apikey": "nope"})
    assert (wrong.status_code, wrong.json()) == (401, {"message": "Invalid API key"})
    ok = sim.ctl.get("/_ext/supabase/rest/v1/", headers={"apikey": "flysim-supabase-anon-key"})
    assert ok.status_code == 200
    shop = "/_ext/shopify/admin/api/2025-10/shop.json"
    assert sim.ctl.get(shop).status_code == 401
    headers = {"X-Shopify-Access-Token": "flysim-shopify-access-token"}
    assert httpx.get(sim.url + shop, headers=headers).json() == {"shop": {"name": "hotdash-dev"}}
