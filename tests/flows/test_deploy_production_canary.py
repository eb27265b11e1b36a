"""deploy-production with the canary strategy, against flysim over real HTTP (flysim-fly as a
real subprocess) and a real Prefect server. The image to ship is staging's; a flysim image
override makes it worse on one metric, only slightly slower, or gives it too little traffic,
and the canary's three verdicts follow. Samples are taken every 0.05 s
(HOTDASH_CANARY_SAMPLE_SECONDS), 12 rounds per analysis, judged with 10 samples at least (the
shipped inventory asks 20 of 40 rounds in 10 minutes: the same judgement, sooner)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.flow_runs import aresume_flow_run
from prefect.input.actions import aread_flow_run_input

from tests.artifacts import artifact_versions, artifacts_of
from tests.deploy_production_run import DeployProductionRun
from tests.flows.test_deploy_production import (
    PROD,
    PROD_V4,
    audit_records,
    env,  # noqa: F401 (the fixture)
    notification_bodies,
    notifications,
    prod_deploys,
    production,
    staging_digest_ref,
    write_inventory,
)

pytestmark = pytest.mark.usefixtures("prefect_server")

ROUNDS = 12
ANALYSIS_MINUTES = ROUNDS * 0.05 / 60


def canary_inventory(path: Path, **canary: Any) -> Path:
    """The shipped inventory (deploy settings as the deploy-production tests have them) with
    hotdash-production's `deploy.canary` changed."""
    data = yaml.safe_load(write_inventory(path).read_text())
    [prod] = [a for a in data["apps"] if a["name"] == PROD]
    prod["deploy"]["canary"] |= {"min_samples": 10, **canary}
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def canary_env(env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811 (the fixture)
    monkeypatch.setenv("HOTDASH_INVENTORY", str(canary_inventory(tmp_path / "canary.yaml")))
    monkeypatch.setenv("HOTDASH_CANARY_SAMPLE_SECONDS", "0.05")
    monkeypatch.setenv("HOTDASH_PAUSE_POLL_SECONDS", "1")
    return env


def machine_images(flysim) -> dict[str, str]:
    return {m["id"]: m["config"]["image"] for m in production(flysim)["machines"]}


async def approve(run: DeployProductionRun) -> None:
    await run.answer("manager-approval", "Bob", True)
    await run.answer("reliability-approval", "Carol", True)


def table(artifact: Any) -> list[dict[str, Any]]:
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data


async def test_a_canary_worse_on_one_metric_fails_and_only_its_machine_goes_back(
    canary_env, tmp_path: Path
) -> None:
    image = staging_digest_ref(canary_env)
    canary_env.patch_image(image, metrics={"error_rate": 0.05})  # 5 % 5xx, p95 as before
    run = DeployProductionRun(strategy="canary", analysis_minutes=ANALYSIS_MINUTES)
    await approve(run)
    state = await run.state()

    assert state.is_failed()
    assert state.message.startswith("canary rolled back (machine ")
    assert "nothing else changed): canary FAIL: 5xx ratio: significantly higher" in state.message
    # Nothing else changed: both machines run v4 again, flyctl never deployed, no release.
    assert set(machine_images(canary_env).values()) == {PROD_V4}
    assert prod_deploys(canary_env) == []
    assert [r["version"] for r in production(canary_env)["releases"]][-1] == 4
    changes = [
        (m["kind"], m["detail"].get("image"))
        for m in canary_env.state()["mutations"]
        if m["app"] == PROD and m["kind"] == "machine_update"
    ]
    assert [img for _, img in changes] == [image, PROD_V4]
    actions = [a for a, *_ in audit_records(tmp_path) if a.startswith(("canary", "deploy."))]
    assert actions == ["canary.started", "canary.rolled_back"]

    artifacts = await artifacts_of(state)
    rows = table(artifacts["deploy-production-canary"])
    assert [(r["metric"], r["verdict"]) for r in rows] == [
        ("5xx ratio", "FAIL"),
        ("p95 latency", "PASS"),
        ("/health failures", "PASS"),
    ]
    assert rows[0]["canary"].endswith(f"({ROUNDS} samples)")
    chart = str(artifacts["deploy-production-canary-chart"].data)
    assert "![canary against baseline over time](data:image/png;base64," in chart
    assert (tmp_path / "state" / "reports").glob("canary-hotdash-production-*.png")
    # People are told, with the comparison table.
    assert notifications(tmp_path)[-1] == f"deploy-production: canary of {PROD} rolled back"
    [body] = notification_bodies(tmp_path, "canary of")
    assert "| 5xx ratio | FAIL |" in body and "| p95 latency | PASS |" in body
    summary = str(artifacts["deploy-production"].data)
    assert "| canary analysis | **FAILED** |" in summary


async def test_a_slightly_slower_canary_passes_then_the_rest_roll_one_at_a_time(
    canary_env, tmp_path: Path
) -> None:
    image = staging_digest_ref(canary_env)
    canary_env.patch_image(image, metrics={"p95_ms": 640})  # 5 % slower: inside x1.2
    # No `strategy`: the shipped inventory's (canary) for hotdash-production.
    run = DeployProductionRun(strategy=None, analysis_minutes=ANALYSIS_MINUTES)
    await approve(run)
    state = await run.state()

    assert state.is_completed(), state.message
    assert set(machine_images(canary_env).values()) == {image}
    [deploy] = prod_deploys(canary_env)
    assert deploy["detail"]["image"] == image
    actions = [
        (a, d.get("max_unavailable"))
        for a, _, d in audit_records(tmp_path)
        if a.startswith(("canary", "deploy."))
    ]
    assert actions == [
        ("canary.started", None),
        ("deploy.started", 1),
        ("deploy.completed", 1),
    ]
    # flyctl's rolling deploy, one machine at a time: never both machines down at once.
    timeline = production(canary_env)["timeline"]
    down: set[str] = set()
    for event in timeline:
        (down.add if event["state"] != "started" else down.discard)(event["machine"])
        assert len(down) <= 1, timeline
    artifacts = await artifacts_of(state)
    rows = table(artifacts["deploy-production-canary"])
    assert [r["verdict"] for r in rows] == ["PASS", "PASS", "PASS"]
    # p95 about 640 ms against 610 (each sample +-10 %, 12 of them): maybe significant,
    # never x1.2.
    canary_ms, baseline_ms = (float(rows[1][side].split()[0]) for side in ("canary", "baseline"))
    assert 600 <= canary_ms <= 680 and 570 <= baseline_ms <= 650
    assert float(rows[1]["ratio"].removeprefix("x")) < 1.2
    assert rows[1]["why"].startswith(("not significantly higher", "higher (p="))
    # The form the approvers saw (the artifact's last version says how the deploy ended).
    forms = await artifact_versions(state, "deploy-production-approval")
    form = next(str(a.data) for a in forms if "**Outcome:" not in str(a.data))
    assert "- **strategy** canary: one machine first" in form


async def test_too_little_traffic_is_inconclusive_and_asks_a_person_with_the_evidence(
    canary_env, tmp_path: Path
) -> None:
    image = staging_digest_ref(canary_env)
    canary_env.patch_image(image, metrics={"rps": 0.005})  # a few requests an hour
    run = DeployProductionRun(strategy="canary", analysis_minutes=ANALYSIS_MINUTES)
    await approve(run)
    paused = await run.paused_at("canary-decision")
    shown = await aread_flow_run_input("paused-canary-decision-description", paused.id)
    assert "Canary of `hotdash-production` is inconclusive" in shown
    assert "| 5xx ratio | INCONCLUSIVE |" in shown and "too little data" in shown
    assert "| /health failures | PASS |" in shown
    subjects = notifications(tmp_path)
    assert subjects[-1] == f"deploy-production: canary of {PROD} inconclusive, a decision is needed"
    # While it waits, the canary machine runs the new image and the other the old one.
    assert sorted(machine_images(canary_env).values()) == sorted([image, PROD_V4])
    # A blank name passes the server's schema but not the form's rules: asked again.
    await aresume_flow_run(
        paused.id, run_input={"decided_by": "  ", "promote": True, "comment": ""}
    )
    again = await run.paused_at("canary-decision-2")
    await aresume_flow_run(
        again.id,
        run_input={"decided_by": "Dave", "promote": True, "comment": "night traffic, ship it"},
    )
    state = await run.state()

    assert state.is_completed(), state.message
    assert set(machine_images(canary_env).values()) == {image}
    decided = [(who, d) for a, who, d in audit_records(tmp_path) if a == "canary.decided"]
    assert decided == [
        ("Dave", {"promote": True, "key": "canary-decision-2", "verdict": "inconclusive"})
    ]
    summary = str((await artifacts_of(state))["deploy-production"].data)
    assert "Dave decided to promote (night traffic, ship it)" in summary


async def test_inconclusive_with_on_inconclusive_rollback_puts_the_canary_back_unasked(
    canary_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inventory = canary_inventory(tmp_path / "rollback.yaml", on_inconclusive="rollback")
    monkeypatch.setenv("HOTDASH_INVENTORY", str(inventory))
    image = staging_digest_ref(canary_env)
    canary_env.patch_image(image, metrics={"rps": 0.005})
    run = DeployProductionRun(strategy="canary", analysis_minutes=ANALYSIS_MINUTES)
    await approve(run)
    state = await asyncio.wait_for(run.state(), 90)

    assert state.is_failed()
    assert "inconclusive, not promoted: canary INCONCLUSIVE" in state.message
    assert set(machine_images(canary_env).values()) == {PROD_V4}
    assert prod_deploys(canary_env) == []
