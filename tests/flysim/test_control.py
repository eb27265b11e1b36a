"""Control API, faults, app endpoints, external services, reset."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.flysim.conftest import Sim


def test_patch_endpoints_and_metrics(sim: Sim) -> None:
    r = sim.ctl.patch(
        "/_sim/apps/hotdash-staging",
        json={"endpoints": {"/health": {"status": 503, "body": "down"}},
              "metrics": {"cpu_pct": 95, "p95_ms": 2500}},
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["metrics"]["cpu_pct"] == 95
    health = sim.ctl.get("/_apps/hotdash-staging/health")
    assert health.status_code == 503 and health.text == "down"
    machine = sim.api.get("/v1/apps/hotdash-staging/machines").json()[0]
    assert machine["checks"][0]["status"] == "critical"
    assert sim.ctl.patch("/_sim/apps/nope", json={}).status_code == 404
    bad = sim.ctl.patch("/_sim/apps/hotdash-staging", json={"metrics": {"cpu": 1}})
    assert bad.status_code == 400 and "unknown metrics" in bad.json()["error"]
    bad = sim.ctl.patch("/_sim/apps/hotdash-staging", json={"fault": {"mode": "418"}})
    assert bad.status_code == 400 and "fault.mode" in bad.json()["error"]


def test_patch_machines_volumes_releases_and_create_app(sim: Sim) -> None:
    mid = sim.api.get("/v1/apps/hotdash-production/machines").json()[0]["id"]
    r = sim.ctl.patch(
        "/_sim/apps/hotdash-production",
        json={
            "machine_states": {mid: "stopped"},
            "machines_add": [{"cpu_kind": "performance", "cpus": 1, "memory_mb": 2048}],
            "volumes_add": [{"name": "extra", "size_gb": 2}],
            "releases_add": [{"version": 5, "status": "failed", "image": "registry.fly.io/x:y"}],
        },
    ).json()
    assert len(r["machines"]) == 3 and len(r["volumes"]) == 1
    assert r["releases"][-1]["status"] == "failed" and r["current_release"] == 4
    created = sim.ctl.post(
        "/_sim/apps", json={"name": "new-app", "machines": [{}], "endpoints": {"/health": 200}}
    )
    assert created.status_code == 201
    assert sim.ctl.get("/_apps/new-app/health").status_code == 200
    assert sim.ctl.post("/_sim/apps", json={"name": "new-app"}).status_code == 409


def test_faults_on_reads(sim: Sim) -> None:
    sim.ctl.patch(
        "/_sim/apps/hotdash-staging", json={"fault": {"mode": "500", "scope": "reads", "times": 1}}
    )
    first = sim.api.get("/v1/apps/hotdash-staging/machines")
    assert first.status_code == 500 and "error" in first.json()
    assert sim.api.get("/v1/apps/hotdash-staging/machines").status_code == 200
    sim.ctl.patch("/_sim/apps/hotdash-staging", json={"fault": {"mode": "429"}})
    limited = sim.api.get("/api/v1/apps/hotdash-staging/logs")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    prom = sim.api.get("/prometheus/personal/api/v1/query", params={"query": "fly_instance_cpu"})
    assert prom.status_code == 429  # the fleet-wide query reads the faulted app too
    other = sim.api.get(
        "/prometheus/personal/api/v1/query",
        params={"query": 'fly_instance_cpu{app="hotdash-chatwoot"}'},
    )
    assert other.status_code == 200
    sim.ctl.patch("/_sim/apps/hotdash-staging", json={"fault": None})
    assert sim.api.get("/v1/apps/hotdash-staging").status_code == 200


def test_timeout_fault_hangs_then_504(sim: Sim) -> None:
    sim.ctl.patch(
        "/_sim/apps/hotdash-staging", json={"fault": {"mode": "timeout", "hang_seconds": 0.4}}
    )
    started = time.monotonic()
    r = sim.api.get("/v1/apps/hotdash-staging/volumes")
    assert r.status_code == 504 and time.monotonic() - started >= 0.4
    try:
        sim.api.get("/v1/apps/hotdash-staging/volumes", timeout=0.1)
        raise AssertionError("expected a client timeout")
    except httpx.TimeoutException:
        pass


def test_faulted_mutation_is_not_applied(sim: Sim) -> None:
    sim.ctl.patch(
        "/_sim/apps/hotdash-chatwoot", json={"fault": {"mode": "503", "scope": "mutations"}}
    )
    base = "/v1/apps/hotdash-chatwoot/volumes/vol_chatwoot0storage01"
    assert sim.api.put(f"{base}/extend", json={"size_gb": 50}).status_code == 503
    assert sim.api.get(base).json()["size_gb"] == 10  # reads still work, nothing changed
    assert sim.state()["mutations"] == []
    cli = sim.fly("apps", "restart", "hotdash-chatwoot")
    assert cli.returncode == 1 and "Error: flysim fault injected: 503" in cli.stderr


def test_app_endpoints_and_external(sim: Sim) -> None:
    callback = sim.ctl.get("/_apps/hotdash-production/auth/callback")
    assert callback.status_code == 302
    assert callback.headers["location"].startswith("https://admin.shopify.com/")
    assert sim.ctl.get("/_apps/hotdash-production/health").json() == {"status": "ok"}
    assert sim.ctl.get("/_apps/hotdash-production/nope").status_code == 404
    assert sim.ctl.get("/_apps/nope/health").status_code == 404
    key = {"apikey": "flysim-supabase-anon-key"}  # the scenario's: 401 without it
    assert sim.ctl.get("/_ext/supabase/rest/v1/", headers=key).status_code == 200
    assert sim.ctl.get("/_ext/supabase/rest/v1", headers=key).status_code == 200


async def test_slow_endpoints_are_served_concurrently(sim: Sim) -> None:
    # 40 answers of 1 s each: served one after the other they would take 40 s.
    sim.ctl.patch("/_sim/apps/hotdash-staging", json={"endpoints": {"/slow": {"latency_ms": 1000}}})
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=sim.url, limits=limits, timeout=10) as client:
        started = time.monotonic()
        answers = await asyncio.gather(
            *(client.get("/_apps/hotdash-staging/slow") for _ in range(40))
        )
        elapsed = time.monotonic() - started
    assert all(a.status_code == 200 for a in answers)
    assert elapsed < 40 / 4, f"{elapsed:.1f} s: the answers were not served concurrently"


def test_reset_restores_the_scenario(sim: Sim) -> None:
    sim.ctl.patch("/_sim/apps/hotdash-staging", json={"endpoints": {"/health": 500}})
    sim.api.delete("/v1/apps/hotdash-staging/volumes/vol_staging0old0data1")
    before = sim.api.get("/v1/apps/hotdash-production/machines").json()
    assert sim.ctl.post("/_sim/reset").json() == {"ok": True}
    assert sim.ctl.get("/_apps/hotdash-staging/health").status_code == 200
    assert len(sim.api.get("/v1/apps/hotdash-staging/volumes").json()) == 1
    after = sim.api.get("/v1/apps/hotdash-production/machines").json()
    assert [m["id"] for m in after] == [m["id"] for m in before]
    assert sim.state()["mutations"] == []


def test_patch_an_image_boot_time_until_reset(sim: Sim) -> None:
    ref = "registry.fly.io/hotdash-staging:deployment-01J9FJ0E00H4QX4FR84G98PBSK"
    r = sim.ctl.patch(f"/_sim/images/{ref}", json={"boot_seconds": 0.4})
    assert r.status_code == 200 and r.json()["boot_seconds"] == 0.4
    m = sim.api.get("/v1/apps/hotdash-staging/machines").json()[0]
    sim.api.post(f"/v1/apps/hotdash-staging/machines/{m['id']}/restart")
    time.sleep(0.2)  # past the default 0.1 s boot, not past this image's 0.4 s
    assert sim.api.get(f"/v1/apps/hotdash-staging/machines/{m['id']}").json()["state"] == (
        "starting"
    )
    bad = sim.ctl.patch(f"/_sim/images/{ref}", json={"boot_seconds": -1})
    assert bad.status_code == 400 and "boot_seconds" in bad.json()["error"]
    sim.ctl.post("/_sim/reset")
    assert ref not in sim.state()["images"]


def test_patch_timing_until_reset(sim: Sim) -> None:
    r = sim.ctl.patch("/_sim/timing", json={"wait_timeout_seconds": 42})
    assert r.status_code == 200 and r.json()["wait_timeout_seconds"] == 42
    assert sim.api.get("/_flyctl/settings").json()["wait_timeout_seconds"] == 42
    bad = sim.ctl.patch("/_sim/timing", json={"boot": 1})
    assert bad.status_code == 400 and "unknown timing fields ['boot']" in bad.json()["error"]
    sim.ctl.post("/_sim/reset")
    assert sim.state()["timing"]["wait_timeout_seconds"] == 1.5  # the tests' timing again
