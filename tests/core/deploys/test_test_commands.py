"""The deploy's test commands (real subprocesses) and the inventory's `deploy:` settings."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from hotdash_ops.deploys.config import parse_deploy_settings
from hotdash_ops.deploys.test_commands import run_commands, summary
from hotdash_ops.inventory import InventoryError
from hotdash_ops.redaction import Redactor

PY = sys.executable


def collect() -> tuple[list[tuple[str, str]], object]:
    lines: list[tuple[str, str]] = []
    return lines, lambda command, line: lines.append((command, line))


def test_commands_run_in_the_checkout_streaming_lines_in_order(tmp_path: Path) -> None:
    lines, on_line = collect()
    results = run_commands(
        [
            [PY, "-c", "import os; print('unit in', os.path.basename(os.getcwd()))"],
            [PY, "-c", "import sys; print('e2e ok'); print('warn', file=sys.stderr)"],
        ],
        cwd=tmp_path,
        timeout=30,
        on_line=on_line,
    )
    assert [r.ok for r in results] == [True, True]
    assert [line for _, line in lines] == [f"unit in {tmp_path.name}", "e2e ok", "warn"]
    assert lines[0][0] == shlex.join(
        [PY, "-c", "import os; print('unit in', os.path.basename(os.getcwd()))"]
    )
    assert summary(results) == "tests passed (2 commands)"


def test_a_failing_command_stops_the_rest(tmp_path: Path) -> None:
    lines, on_line = collect()
    results = run_commands(
        [[PY, "-c", "print('boom'); raise SystemExit(3)"], [PY, "-c", "print('never')"]],
        cwd=tmp_path,
        timeout=30,
        on_line=on_line,
    )
    assert len(results) == 1
    assert results[0].exit_code == 3 and not results[0].ok
    assert results[0].tail == ["boom"]
    assert "never" not in [line for _, line in lines]
    assert summary(results).startswith("tests failed: `") and summary(results).endswith("exited 3")


def test_timeout_kills_the_command(tmp_path: Path) -> None:
    _, on_line = collect()
    [result] = run_commands(
        [[PY, "-c", "import time; print('start', flush=True); time.sleep(30)"]],
        cwd=tmp_path,
        timeout=0.5,
        on_line=on_line,
    )
    assert result.timed_out and not result.ok and result.exit_code is None
    assert result.duration_s < 10
    assert "timed out after" in result.describe()


def test_a_missing_program_fails_with_its_reason(tmp_path: Path) -> None:
    _, on_line = collect()
    [result] = run_commands(
        [["no-such-program-hotdash"]],
        cwd=tmp_path,
        timeout=5,
        on_line=on_line,
    )
    assert not result.ok
    assert (
        result.describe() == "`no-such-program-hotdash` could not start: No such file or directory"
    )


def test_missing_checkout_is_refused(tmp_path: Path) -> None:
    _, on_line = collect()
    with pytest.raises(ValueError, match=r"checkout: .*nowhere is not a directory"):
        run_commands([[PY, "-V"]], cwd=tmp_path / "nowhere", timeout=5, on_line=on_line)


def test_the_fly_token_is_withheld_and_secrets_are_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLY_API_TOKEN", "fm2_secret-token-value")
    monkeypatch.delenv("CI", raising=False)  # CI machines set their own; see the next test
    lines, on_line = collect()
    run_commands(
        [[PY, "-c", "import os; print(os.environ.get('FLY_API_TOKEN', 'absent')); "
                    "print('leak fm2_secret-token-value'); print(os.environ['CI'])"]],
        cwd=tmp_path,
        timeout=30,
        on_line=on_line,
        redactor=Redactor(["fm2_secret-token-value"]),
    )  # fmt: skip
    assert [line for _, line in lines] == ["absent", "leak ***REDACTED***", "1"]


def test_a_ci_value_already_set_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    lines, on_line = collect()
    run_commands(
        [[PY, "-c", "import os; print(os.environ['CI'])"]],
        cwd=tmp_path,
        timeout=30,
        on_line=on_line,
    )
    assert [line for _, line in lines] == ["true"]


def test_deploy_settings_defaults_and_repository_location(tmp_path: Path) -> None:
    cfg = parse_deploy_settings({"off_hours": ["sat-sun"]})  # other keys are not ours
    assert cfg.test_commands == [] and cfg.required_secrets == ["DATABASE_URL"]
    assert cfg.main_branch == "main" and cfg.repository_location({}, base=tmp_path) is None
    cfg = parse_deploy_settings({"repository": "../HotDash"})
    assert cfg.repository_location({}, base=tmp_path / "deployments") == str(
        (tmp_path / "HotDash").resolve()
    )
    env = {"HOTDASH_REPOSITORY": "git@github.com:Jgorzitza/HotDash.git"}
    assert cfg.repository_location(env, base=tmp_path) == env["HOTDASH_REPOSITORY"]
    url = parse_deploy_settings({"repository": "https://github.com/Jgorzitza/HotDash.git"})
    assert url.repository_location({}, base=tmp_path) == "https://github.com/Jgorzitza/HotDash.git"


def test_bad_repository_settings_are_refused_naming_the_field(tmp_path: Path) -> None:
    for bad, rule in [
        ("https://bob:hunter2@github.com/x.git", "must not carry credentials"),
        ("ext::sh -c touch% /tmp/pwned", "'<transport>::' addresses are not allowed"),
        ("--upload-pack=touch /tmp/x", "must not start with '-'"),
        ("http://example.com/x.git", "use an https, ssh, git or file URL, or a path"),
    ]:
        with pytest.raises(InventoryError, match=rf"deploy.repository: .*{rule}"):
            parse_deploy_settings({"repository": bad})
    cfg = parse_deploy_settings({})
    with pytest.raises(ValueError, match=r"\$HOTDASH_REPOSITORY: must not carry credentials"):
        cfg.repository_location({"HOTDASH_REPOSITORY": "https://x:y@h/r.git"}, base=tmp_path)
    with pytest.raises(InventoryError, match=r"deploy.main_branch: .*is not a branch"):
        parse_deploy_settings({"main_branch": "ma..in"})
    # Keys of the old checkout-based deploy fail loudly, saying what replaced them.
    with pytest.raises(InventoryError, match=r"deploy: checkout: no longer used; deploy-staging"):
        parse_deploy_settings({"checkout": "../HotDash"})
    with pytest.raises(InventoryError, match=r"source_roots: no longer used"):
        parse_deploy_settings({"source_roots": ["../HotDash"]})


def test_deploy_settings_refuse_bad_commands() -> None:
    with pytest.raises(
        InventoryError, match=r"deploy.test_commands: .*test_commands\[1\]: must be a"
    ):
        parse_deploy_settings({"test_commands": [["npm", "test"], []]})
    with pytest.raises(InventoryError, match=r"program must not start with '-'"):
        parse_deploy_settings({"test_commands": [["--rm"]]})
    with pytest.raises(InventoryError, match=r"deploy.test_timeout_seconds"):
        parse_deploy_settings({"test_timeout_seconds": 0})


def test_shipped_inventory_deploy_section_parses() -> None:
    from hotdash_ops.inventory import load_inventory
    from tests.conftest import ROOT

    cfg = parse_deploy_settings(load_inventory(ROOT / "deployments/inventory.yaml").deploy)
    assert cfg.test_commands == [["npm", "run", "test:unit"], ["npm", "run", "test:e2e"]]
    assert cfg.required_secrets == ["DATABASE_URL"]
