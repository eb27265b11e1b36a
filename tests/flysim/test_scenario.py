"""Scenario files: validation messages, generated apps, the shipped scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from flysim.scenario import ScenarioError, load_scenario, parse_scenario
from flysim.state import Backend

SCENARIOS = Path(__file__).resolve().parents[2] / "deployments" / "scenarios"


def test_invalid_scenario_names_each_problem() -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(
            {"apps": {"a": {"machines": [{"cpus": 0}], "metrics": {"cpu": 1}, "regoin": "x"}}},
            "bad.yaml",
        )
    message = str(err.value)
    assert message.startswith("bad.yaml: invalid scenario:")
    assert "apps.a.machines.0.cpus" in message
    assert "apps.a.metrics.cpu" in message
    assert "apps.a.regoin: Extra inputs are not permitted" in message


def test_releases_must_be_oldest_first() -> None:
    with pytest.raises(ScenarioError, match="oldest first"):
        parse_scenario(
            {
                "apps": {
                    "a": {"releases": [{"version": 2, "image": "x"}, {"version": 1, "image": "y"}]}
                }
            }
        )


def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("apps: [")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)


def test_shipped_scenarios_load() -> None:
    hotdash = Backend(load_scenario(SCENARIOS / "hotdash.yaml"))
    assert set(hotdash.apps) == {
        "hotdash-staging", "hotdash-production", "hotdash-agent-service",
        "hotdash-llamaindex-mcp", "hotdash-chatwoot",
    }  # fmt: skip
    for app in hotdash.apps.values():
        assert sum(r.status == "complete" for r in app.releases) >= 3
        m = hotdash.effective_metrics(app)
        assert m["cpu_pct"] < 80 and m["mem_pct"] < 85 and m["p95_ms"] < 2000
        assert m["error_rate"] < 0.01
    bench = Backend(load_scenario(SCENARIOS / "bench-200.yaml"))
    assert len(bench.apps) == 200
    assert bench.apps["bench-app-001"].endpoints["/health"].latency_ms == 200
