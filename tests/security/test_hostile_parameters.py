"""Every flow parameter against hostile input (hypothesis), at two levels:

* fast: thousands of generated values per flow through Prefect's parameter validation (what a
  run does before the flow body) and the flow's own pure checks: each is refused with a
  message naming the field, or accepted only in a shape that is safe (hostile.Kind oracles);
* real: a sample per flow actually run against flysim and the Prefect server: the run fails
  naming the field, flysim's state is unchanged, no mutation, no flyctl call, no lock, no
  audit record.

And flyctl is only ever called with an argv list: an AST scan of the code for shell use, and
flows run with FLYCTL pointing at a recorder.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from prefect import get_client
from prefect.exceptions import (
    ParameterBindError,
    ParameterTypeError,
    PrefectHTTPStatusError,
    SignatureMismatchError,
)

from tests.conftest import ROOT
from tests.git_origin import Origin
from tests.hostile_counts import count
from tests.security.conftest import (
    FlyctlRecorder,
    check_argv,
    quick_inventory,
    steady_state,
)
from tests.security.hostile import (
    APP,
    GOOD_IMAGE,
    KNOWN_GAPS,
    FlowSpec,
    Verdict,
    all_flows,
    flow_specs,
    judge,
    names_a_field,
)

INPUTS_PER_EXAMPLE = 3
# Real runs per flow. What they prove (a refused value fails the run naming the field, with
# nothing changed) holds for the first as for the eighth; each costs a real flow run, so the
# `ci` profile makes three per flow and `thorough` twenty-five. The fast test above them takes
# the profile's max_examples (ci: 250 examples, 750 inputs per flow).
REAL_EXAMPLES = {"thorough": 25}.get(settings.get_current_profile_name(), 3)
MAX_MESSAGE = 2000  # a refusal is read by a person: no megabyte echo of the input

SPECS = flow_specs()
IDS = [s.name for s in SPECS]
# A flow without parameters is attacked with parameters it does not have.
EXTRA = {"app": "hotdash-production", "--app": "x", "org": "personal", "FLY_API_TOKEN": "t"}


def refuse_unknown_parameters(spec: FlowSpec) -> None:
    """Every unknown parameter is refused by Prefect's binding, naming it."""
    for name, value in EXTRA.items():
        verdict = judge(spec, name, value)
        assert verdict.refused and name in verdict.message, (name, verdict)
        count(spec.name, "fast_refused")


@pytest.fixture(autouse=True)
def quiet_prefect_flows_logger() -> Any:
    # Prefect logs every refused parameter set (with the megabyte values) on this logger.
    logger = logging.getLogger("prefect.flows")
    was = logger.disabled
    logger.disabled = True
    yield
    logger.disabled = was


def test_every_flow_parameter_has_a_kind() -> None:
    flows = all_flows()
    assert set(flows) == {s.name for s in SPECS}, "a flow without a FlowSpec in hostile.py"
    assert len(flows) >= 5
    for spec in SPECS:
        params = set(inspect.signature(spec.flow.fn).parameters)
        assert params == set(spec.params), f"{spec.name}: parameters without a Kind"
        # The baseline is valid and every kind's base value passes its own oracle, so the
        # oracles can say yes as well as no.
        validated = spec.validate(spec.baseline)
        for name, kind in spec.params.items():
            base = spec.validate({**spec.baseline, name: kind.base})[name]
            assert kind.accepts_safely(base), (spec.name, name, kind.base)
            if name in spec.baseline:
                assert kind.accepts_safely(validated[name])
        for key in KNOWN_GAPS:
            assert key[0] != spec.name or key[1] in spec.params


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_validator_matches_prefect(spec: FlowSpec) -> None:
    """The cached validator gives Flow.validate_parameters' verdicts (checked on a sample,
    since Prefect's own costs 15 ms a call)."""
    if not spec.params:
        for name, value in EXTRA.items():
            with pytest.raises(SignatureMismatchError, match=name):
                spec.flow.validate_parameters({name: value})
        return

    @settings(max_examples=15, deadline=None, database=None, derandomize=True)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(spec.params)))
        value = data.draw(spec.strategy(name))
        params = {**spec.baseline, name: value}
        try:
            ours: Any = spec.validate(params)
        except ParameterTypeError as exc:
            ours = str(exc)
        try:
            theirs: Any = spec.flow.validate_parameters(params)
        except ParameterTypeError as exc:
            theirs = str(exc)
        assert type(ours) is type(theirs)
        if isinstance(ours, str):
            assert ours == theirs

    check()


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_hostile_values_are_refused_naming_the_field_or_accepted_in_a_safe_shape(
    spec: FlowSpec,
) -> None:
    if not spec.params:
        refuse_unknown_parameters(spec)
        return
    seen: Counter[str] = Counter()

    @settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def hostile(data: st.DataObject) -> None:
        # Several inputs per example: hypothesis' fixed cost per example is the larger part.
        for _ in range(INPUTS_PER_EXAMPLE):
            name = data.draw(st.sampled_from(sorted(spec.params)), label="parameter")
            value = data.draw(spec.strategy(name), label="value")
            check_one(name, value)

    def check_one(name: str, value: Any) -> None:
        kind = spec.params[name]
        verdict = judge(spec, name, value)
        seen["tried"] += 1
        seen[f"tried:{name}"] += 1
        if verdict.refused:
            seen["refused"] += 1
            assert names_a_field(verdict, spec, name), verdict.message[:500]
            assert len(verdict.message) <= MAX_MESSAGE, verdict.message[:300]
            return
        seen["accepted"] += 1
        if kind.accepts_safely(verdict.value):
            return
        if (spec.name, name) in KNOWN_GAPS:
            seen["accepted_gap"] += 1
            return
        raise AssertionError(f"{spec.name}.{name} accepted {verdict.value!r:.300}")

    hostile()
    count(spec.name, "fast_tried", seen["tried"])
    count(spec.name, "fast_refused", seen["refused"])
    count(spec.name, "fast_accepted_safe", seen["accepted"] - seen["accepted_gap"])
    count(spec.name, "fast_accepted_known_gap", seen["accepted_gap"])
    for name in spec.params:
        assert seen[f"tried:{name}"] > 0, f"{spec.name}.{name} never tried"
    # A known gap must still show; once fixed, its KNOWN_GAPS entry has to go.
    for (flow, name), (probe, fix) in KNOWN_GAPS.items():
        if flow == spec.name:
            verdict = judge(spec, name, probe)
            still_open = not verdict.refused and not spec.params[name].accepts_safely(verdict.value)
            assert still_open, f"{flow}.{name} looks fixed ({fix}): remove it from KNOWN_GAPS"


# -- real runs ---------------------------------------------------------------------------


async def _locks() -> dict[str, int]:
    async with get_client() as client:
        limits = await client.read_global_concurrency_limits(limit=200, offset=0)
    return {lim.name: lim.active_slots for lim in limits}


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_refused_runs_change_nothing(
    spec: FlowSpec,
    flysim: Any,
    recorder: FlyctlRecorder,
    prefect_server: str,
    tmp_path: Path,
) -> None:
    if not spec.params:
        # A run given a parameter the flow does not have is refused before it starts.
        for name, value in EXTRA.items():
            with pytest.raises(ParameterBindError, match=f"unexpected keyword argument '{name}'"):
                asyncio.run(spec.flow(**{name: value}))  # type: ignore[arg-type]
        assert flysim.state()["mutations"] == [] and recorder.calls() == []
        count(spec.name, "real_runs_refused_by_prefect", len(EXTRA))
        return
    loop = asyncio.new_event_loop()
    before = steady_state(flysim.state())
    assert flysim.state()["mutations"] == []
    locks_before = loop.run_until_complete(_locks())
    state_dir = tmp_path / "state"
    tried = Counter[str]()

    @settings(
        max_examples=REAL_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def real(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(spec.params)), label="parameter")
        value = data.draw(spec.strategy(name), label="value")
        verdict = judge(spec, name, value)
        assume(verdict.refused)
        try:
            state = loop.run_until_complete(
                spec.flow(**{**spec.baseline, name: value}, return_state=True)
            )
        except PrefectHTTPStatusError as exc:
            # Over 512 KB of parameters: the server refuses to create the run at all.
            assert exc.response.status_code == 422, str(exc)[:300]
            assert "parameters must be less than" in str(exc)[:2000], str(exc)[:300]
            tried["server_refused"] += 1
        else:
            tried["real"] += 1
            assert state.is_failed(), (name, str(state)[:300])
            message = state.message or ""
            said = Verdict(True, message, by_flow=verdict.by_flow)
            assert names_a_field(said, spec, name), message[:500]
            assert len(message) <= MAX_MESSAGE + 200, message[:300]
        after = flysim.state()
        assert after["mutations"] == [], after["mutations"]
        assert steady_state(after) == before
        assert recorder.calls() == [], recorder.calls()
        assert not (state_dir / "audit.jsonl").exists()
        assert not (state_dir / "notifications.jsonl").exists()
        assert loop.run_until_complete(_locks()) == locks_before

    try:
        real()
    finally:
        loop.close()
    count(spec.name, "real_runs_failed_naming_the_field", tried["real"])
    count(spec.name, "real_runs_refused_by_the_server", tried["server_refused"])
    assert tried["real"] + tried["server_refused"] >= REAL_EXAMPLES


# -- flyctl is called with an argv list, never through a shell -----------------------------

SUBPROCESS_FUNCS = {"run", "Popen", "call", "check_call", "check_output"}
SHELL_FUNCS = {
    ("os", "system"),
    ("os", "popen"),
    ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"),
    ("asyncio", "create_subprocess_shell"),
}


def shell_uses(source: str, filename: str) -> tuple[list[str], int]:
    """(problems, number of process-starting calls seen) in one module."""
    problems: list[str] = []
    calls = 0
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        owner = (
            func.value.id
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            else None
        )
        attr = (
            func.attr
            if isinstance(func, ast.Attribute)
            else func.id
            if isinstance(func, ast.Name)
            else None
        )
        where = f"{filename}:{node.lineno}"
        if (owner, attr) in SHELL_FUNCS or attr in ("system", "create_subprocess_shell"):
            problems.append(f"{where}: {owner}.{attr} runs a shell")
            continue
        is_exec = owner == "os" and attr is not None and attr.startswith(("exec", "spawn"))
        is_sub = owner == "subprocess" and attr in SUBPROCESS_FUNCS
        if attr == "create_subprocess_exec" or is_exec:
            calls += 1
            continue
        if not is_sub:
            continue
        calls += 1
        for kw in node.keywords:
            if kw.arg == "shell" and not (
                isinstance(kw.value, ast.Constant) and kw.value.value is False
            ):
                problems.append(f"{where}: shell={ast.unparse(kw.value)}")
        args = node.args[:1] or [kw.value for kw in node.keywords if kw.arg == "args"]
        for arg in args:
            if isinstance(arg, (ast.JoinedStr, ast.BinOp)) or (
                isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            ):
                problems.append(f"{where}: a command string ({ast.unparse(arg)[:60]})")
    return problems, calls


def test_shell_scan_finds_shell_use() -> None:
    bad = (
        "import os, subprocess, asyncio\n"
        "subprocess.run('fly deploy', shell=True)\n"
        "subprocess.Popen(f'fly -a {app}')\n"
        "os.system('fly status')\n"
        "subprocess.check_output(['fly'], shell=flag)\n"
        "asyncio.create_subprocess_shell('x')\n"
    )
    problems, _ = shell_uses(bad, "bad.py")
    assert len(problems) == 6, problems  # the first line twice: shell=True and a string
    good = "import subprocess\nsubprocess.run(['fly', 'status', '-a', app], shell=False)\n"
    assert shell_uses(good, "good.py") == ([], 1)


def test_no_shell_anywhere_in_the_code() -> None:
    problems: list[str] = []
    calls = 0
    files = 0
    for package in ("hotdash_ops", "tasks", "flows", "flysim", "deployments"):
        for path in sorted((ROOT / package).rglob("*.py")):
            found, n = shell_uses(path.read_text(), str(path.relative_to(ROOT)))
            problems += found
            calls += n
            files += 1
    assert problems == []
    assert files > 40 and calls >= 3  # flyctl, the test commands, git: all seen, none a shell


HOSTILE_TEXT = "ops; rm -rf / $(id) `id` --app=hotdash-production -a evil > /tmp/x"
HOSTILE_MARKERS = ["rm -rf", "$(id)", "`id`", "--app=", "hotdash-production", "-a evil", "/tmp/x"]


async def test_flyctl_gets_an_argv_list_with_user_values_as_separate_elements(
    flysim: Any, recorder: FlyctlRecorder, prefect_server: str, tmp_path: Path, monkeypatch: Any
) -> None:
    from flows.deploy_staging import deploy_staging
    from flows.rollback import rollback
    from flows.scale_app import scale_app

    state = await scale_app(app=APP, count=2, return_state=True)
    assert state.is_completed(), state.message
    check_argv(recorder.calls(), [APP, "2"], HOSTILE_MARKERS)
    assert ["scale", "count", "2", "-a", APP, "--yes"] in recorder.calls()
    recorder.clear()

    # Free text full of shell and option syntax is accepted (it is text) and reaches no argv.
    origin = Origin(tmp_path)
    sha = origin.commit({"package.json": "{}"}, HOSTILE_TEXT)  # the commit message too
    monkeypatch.setenv("HOTDASH_INVENTORY", str(quick_inventory(tmp_path, origin.path)))
    state = await deploy_staging(
        requested_by=HOSTILE_TEXT[:100],
        image=GOOD_IMAGE,
        untested_image_reason=HOSTILE_TEXT,
        reason=HOSTILE_TEXT,
        return_state=True,
    )
    assert state.is_completed(), state.message
    check_argv(recorder.calls(), [APP, GOOD_IMAGE], HOSTILE_MARKERS)
    deploys = [c for c in recorder.calls() if c[0] == "deploy"]
    assert deploys == [
        ["deploy", "-a", APP, "--image", GOOD_IMAGE, "--strategy", "rolling", "--yes"]
    ]
    recorder.clear()
    state = await deploy_staging(
        requested_by="ops", ref=sha[:10], override_reason=HOSTILE_TEXT, return_state=True
    )
    assert state.is_completed(), state.message
    check_argv(recorder.calls(), [APP, f"git-{sha}"], HOSTILE_MARKERS)
    [build] = [c for c in recorder.calls() if c[0] == "deploy"]
    assert build == [
        "deploy", "-a", APP, "--remote-only", "--image-label", f"git-{sha}",
        "--label", f"org.opencontainers.image.revision={sha}", "--yes",
    ]  # fmt: skip
    recorder.clear()

    state = await rollback(
        environment="staging", reason=HOSTILE_TEXT, requested_by="ops", return_state=True
    )
    assert state.is_completed(), state.message
    check_argv(recorder.calls(), [APP], HOSTILE_MARKERS)
    # The hostile text did reach the audit log, as text: it was in play, and stayed text.
    assert "rm -rf / $(id)" in (tmp_path / "state" / "audit.jsonl").read_text()
    recorder.clear()

    from flows.restart_app import restart_app

    state = await restart_app(
        app=APP, requested_by="ops", reason=HOSTILE_TEXT, verify_seconds=0, return_state=True
    )
    assert state.is_completed(), state.message
    check_argv(recorder.calls(), [APP], HOSTILE_MARKERS)
    assert recorder.calls() == [["apps", "restart", APP]]
