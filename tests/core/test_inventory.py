"""The shipped inventory loads; bad inventories are refused naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotdash_ops.inventory import InventoryError, load_inventory

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "deployments" / "inventory.yaml"


def test_real_inventory_loads() -> None:
    inv = load_inventory(INVENTORY)
    assert inv.org == "personal" and inv.timezone == "America/Los_Angeles"
    assert inv.environment_app("staging").name == "hotdash-staging"
    assert inv.environment_app("production").name == "hotdash-production"
    assert {a.name for a in inv.web_apps} == {
        "hotdash-staging",
        "hotdash-production",
        "hotdash-chatwoot",
    }
    assert {a.name for a in inv.background_apps} == {
        "hotdash-agent-service",
        "hotdash-llamaindex-mcp",
    }
    prod = inv.app("hotdash-production")
    assert [(s.path, s.status) for s in prod.smoke] == [
        ("/health", 200),
        ("/", 200),
        ("/app", 200),
        ("/api/health", 200),
        ("/favicon.ico", 200),
        ("/auth/callback", 302),
    ]
    assert prod.smoke[0].budget_ms == 2000
    assert prod.thresholds.cpu_pct == 80 and prod.thresholds.mem_pct == 85
    assert prod.thresholds.response_ms == 2000 and prod.thresholds.error_rate_crit == 0.05
    bg = inv.app("hotdash-agent-service").thresholds
    assert (bg.cpu_pct, bg.mem_pct, bg.response_ms) == (90, 90, 5000)
    supabase = inv.dependency("supabase")
    assert supabase.url_env == "SUPABASE_URL" and supabase.expected_status == [200]
    assert supabase.resolved_url({"SUPABASE_URL": "http://127.0.0.1:9/x"}) == "http://127.0.0.1:9/x"
    assert all(a.health_path == "/health" for a in inv.apps)
    staging, production = inv.environment_app("staging"), inv.environment_app("production")
    assert staging.dependencies == production.dependencies == ["supabase", "shopify"]
    assert inv.dependency("supabase").headers["apikey"].env == "SUPABASE_ANON_KEY"
    shopify = inv.dependency("shopify").headers["X-Shopify-Access-Token"]
    assert (shopify.env, shopify.secret_block) == ("SHOPIFY_ACCESS_TOKEN", "shopify-access-token")
    assert inv.environment_of("hotdash-production") == "production"
    assert inv.environment_of("hotdash-chatwoot") is None
    assert "https://fly.io/dashboard/personal/billing" in inv.billing_links


def test_unknown_app_and_environment() -> None:
    inv = load_inventory(INVENTORY)
    with pytest.raises(KeyError, match="'nope' is not in the inventory"):
        inv.app("nope")
    with pytest.raises(KeyError, match="environment 'qa'"):
        inv.environment_app("qa")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "inv.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("org: x\napps:\n  - {name: -bad, role: web}\n", "apps.0.name"),
        ("org: x\napps:\n  - {name: good-app, role: db}\n", "apps.0.role"),
        ("org: x\napps:\n  - {name: good-app, role: web, thresholds: {cpu_pct: 150}}\n", "cpu_pct"),
        ("org: x\napps: []\nenvironments: {staging: {app: missing-app}}\n", "environments.staging"),
        ("org: x\napps:\n  - {name: good-app, role: web, dependencies: [redis]}\n", "redis"),
        ("org: x\ntimezone: Mars/Base\napps: []\n", "timezone"),
        ("org: x\napps: []\ntypo_key: 1\n", "typo_key"),
        ("org: x\napps: []\ndependencies:\n  - {name: db, url: 'http://evil.example'}\n", "url"),
        (
            "org: x\napps: []\ndependencies:\n  - {name: db, url: 'https://x.example',"
            " headers: {apikey: {env: SUPABASE_ANON}}}\n",
            r"dependencies.0.headers.apikey.env: SUPABASE_ANON must end with _TOKEN, _SECRET",
        ),
        (
            "org: x\napps: []\ndependencies:\n  - {name: db, url: 'https://x.example',"
            " headers: {'bad header': {env: DB_KEY}}}\n",
            r"dependencies.0.headers.bad header",
        ),
        (
            "org: x\napps:\n  - {name: db, role: web}\ndependencies:\n"
            "  - {name: db, url: 'https://x.example'}\n",
            "dependencies.db: an app has the same name",
        ),
        ("- just a list\n", "mapping"),
        ("org: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_inventory_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InventoryError, match=message):
        load_inventory(_write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read"):
        load_inventory(tmp_path / "none.yaml")


def test_prefect_yaml_schedules_use_the_inventory_timezone() -> None:
    """One timezone for the project: the inventory's. `make demo` (deployments/stack.py) and
    register.sh refuse to register deployments whose schedules name another zone."""
    import yaml

    from hotdash_ops.inventory import schedule_timezone_problems

    prefect_yaml = yaml.safe_load((REPO / "prefect.yaml").read_text())
    timezone = load_inventory(INVENTORY).timezone
    scheduled = [d for d in prefect_yaml["deployments"] if d.get("schedules")]
    assert len(scheduled) >= 4  # the health check, the monitor, the cost reports
    assert schedule_timezone_problems(prefect_yaml, timezone) == []
    # The check can fail: another zone, or none at all (Prefect would use UTC).
    assert schedule_timezone_problems(prefect_yaml, "Europe/Berlin")[:2] == [
        "prefect.yaml: deployment 'daily-health-check' schedules in America/Los_Angeles, "
        "the inventory's timezone is Europe/Berlin",
        "prefect.yaml: deployment 'daily-health-check': its description does not say when it "
        "runs in Europe/Berlin",
    ]
    bare = {"deployments": [{"name": "x", "schedules": [{"cron": "0 9 * * *"}]}]}
    assert schedule_timezone_problems(bare, timezone) == [
        "prefect.yaml: deployment 'x' schedules in UTC (no timezone), the inventory's "
        f"timezone is {timezone}",
        f"prefect.yaml: deployment 'x': its description does not say when it runs in {timezone}",
    ]


def test_every_deployment_says_what_it_is_and_whether_a_person_runs_it() -> None:
    """Prefect's deployments list shows tags, not descriptions: the first tag says the kind
    (`by-hand`, `scheduled`, `automatic`), and every deployment has a description."""
    import yaml

    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    for d in deployments:
        assert d.get("description"), d["name"]
        kind = d["tags"][0]
        assert len(d["tags"]) <= 2, d["name"]  # the list shows two without a "+1"
        assert kind in ("by-hand", "scheduled", "automatic"), d["name"]
        assert (kind == "scheduled") == bool(d.get("schedules")), d["name"]
    automatic = [d["name"] for d in deployments if d["tags"][0] == "automatic"]
    assert "deploy-production-approval-deadline" in automatic
    by_hand = {d["name"] for d in deployments if d["tags"][0] == "by-hand"}
    assert {"deploy-staging", "deploy-production", "rollback"} <= by_hand


def test_the_shipped_inventory_names_example_approvers_the_tests_use() -> None:
    # Alice requests; Bob, Carol and Dave approve in the flow and end-to-end tests.
    approvers = load_inventory(INVENTORY).approvers
    assert approvers == {"manager": ["Bob", "Carol"], "reliability": ["Bob", "Carol", "Dave"]}
