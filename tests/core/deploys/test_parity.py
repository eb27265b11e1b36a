"""Environment parity rules (pure): which differences stop a staging deploy."""

from __future__ import annotations

from hotdash_ops.deploys.parity import EnvironmentFacts, compare_environments, environment_facts
from hotdash_ops.models import Machine
from hotdash_ops.monitor.probe import ProbeResult

SECRETS = ["DATABASE_URL", "SESSION_SECRET", "SHOPIFY_API_KEY"]


def machine(
    i: int,
    *,
    region: str = "ord",
    group: str = "app",
    cpus: int = 1,
    memory: int = 512,
    image: str = "registry.fly.io/hotdash-staging:deployment-3",
    version: int = 3,
) -> Machine:
    return Machine.model_validate(
        {
            "id": f"m{i}",
            "state": "started",
            "region": region,
            "config": {
                "image": image,
                "guest": {"cpu_kind": "shared", "cpus": cpus, "memory_mb": memory},
                "metadata": {"fly_process_group": group, "fly_release_version": str(version)},
            },
        }
    )


def health(status: int | None = 200) -> ProbeResult:
    return ProbeResult(
        url="https://x.fly.dev/health",
        expected_status=200,
        status=status,
        latency_ms=30.0 if status else None,
        budget_ms=2000,
        error=None if status else "ConnectError: refused",
    )


def facts(
    env: str,
    machines: list[Machine] | None = None,
    secrets: list[str] | None = None,
    probe: ProbeResult | None = None,
) -> EnvironmentFacts:
    return environment_facts(
        env,
        f"hotdash-{env}",
        machines=machines if machines is not None else [machine(1)],
        secrets=SECRETS if secrets is None else secrets,
        health=probe if probe is not None else health(),
    )


def item(report, check: str):
    [found] = [i for i in report.items if i.check == check]
    return found


def test_identical_environments_are_all_ok() -> None:
    report = compare_environments(facts("staging"), facts("production"), required_secrets=SECRETS)
    assert {i.severity for i in report.items} == {"ok"}
    assert report.blocking == []
    assert report.summary() == "parity: ok, no difference"


def test_the_scenario_shape_is_info_only() -> None:
    # hotdash.yaml: production has SENTRY_DSN and 2 bigger machines, another image.
    staging = facts("staging", [machine(1)])
    production = facts(
        "production",
        [machine(i, cpus=2, memory=1024, image="prod:4", version=4) for i in (1, 2)],
        secrets=[*SECRETS, "SENTRY_DSN"],
    )
    report = compare_environments(staging, production, required_secrets=["DATABASE_URL"])
    assert report.blocking == []
    assert item(report, "secret names").severity == "info"
    assert "only on production: SENTRY_DSN" in item(report, "secret names").note
    assert item(report, "guest (app)").severity == "info"
    assert item(report, "guest (app)").production == "shared 2x 1024 MB"
    assert item(report, "process groups").severity == "info"  # counts differ
    assert item(report, "current image").severity == "info"
    assert "staging ahead" in item(report, "current image").note
    assert item(report, "current image").production == "prod:4 (v4)"


def test_required_secret_missing_on_staging_blocks() -> None:
    staging = facts("staging", secrets=["SESSION_SECRET"])
    report = compare_environments(staging, facts("production"), required_secrets=["DATABASE_URL"])
    req = item(report, "required secrets")
    assert req.severity == "blocking"
    assert req.note == "missing on staging: DATABASE_URL"
    assert report.blocking == [req]
    assert report.summary().startswith("parity: 1 blocking (required secrets)")


def test_required_secret_missing_on_production_informs_but_a_staging_deploy_goes_on() -> None:
    production = facts("production", secrets=["SESSION_SECRET"])
    report = compare_environments(facts("staging"), production, required_secrets=["DATABASE_URL"])
    req = item(report, "required secrets")
    assert req.severity == "info" and report.blocking == []
    assert req.note == "missing on production: DATABASE_URL (set before promoting)"


def test_unhealthy_or_unreachable_health_is_shown_and_never_blocks() -> None:
    # Production failing is the incident a hotfix is for; staging down is what a deploy fixes.
    report = compare_environments(
        facts("staging", probe=health(503)),
        facts("production", probe=health(None)),
        required_secrets=[],
    )
    h = item(report, "/health")
    assert h.severity == "info" and report.blocking == []
    assert h.staging.startswith("503 (expected 200)")
    assert h.production.startswith("no answer (ConnectError")
    assert h.note == f"unhealthy: staging ({h.staging}), production ({h.production})"
    assert report.summary() == (
        f"parity: no blocking difference, 1 info; /health failing: staging ({h.staging}), "
        f"production ({h.production})"
    )
    assert "**Deploy may go on**" in report.markdown()


def test_process_group_in_one_environment_only_blocks() -> None:
    production = facts("production", [machine(1), machine(2, group="worker")])
    report = compare_environments(facts("staging"), production, required_secrets=[])
    groups = item(report, "process groups")
    assert groups.severity == "blocking"
    assert groups.note == "only on production: worker"


def test_regions_without_overlap_block_and_overlap_informs() -> None:
    far = compare_environments(
        facts("staging"), facts("production", [machine(1, region="lhr")]), required_secrets=[]
    )
    assert item(far, "region").severity == "blocking"
    near = compare_environments(
        facts("staging"),
        facts("production", [machine(1), machine(2, region="lhr")]),
        required_secrets=[],
    )
    assert item(near, "region").severity == "info"


def test_same_image_is_ok() -> None:
    same = compare_environments(
        facts("staging", [machine(1, image="img:9")]),
        facts("production", [machine(1, image="img:9")]),
        required_secrets=[],
    )
    assert item(same, "current image").severity == "ok"


def test_markdown_lists_every_item_and_says_whether_the_deploy_stops() -> None:
    report = compare_environments(
        facts("staging", secrets=[]), facts("production"), required_secrets=["DATABASE_URL"]
    )
    text = report.markdown()
    assert "**Deploy stops unless overridden**" in text
    assert "| required secrets | missing DATABASE_URL | all set | **BLOCKING** |" in text
    for i in report.items:
        assert f"| {i.check} |" in text
    ok = compare_environments(facts("staging"), facts("production"), required_secrets=[])
    assert "**Deploy may go on**" in ok.markdown()
