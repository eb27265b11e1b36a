"""Shared fixtures: a real flysim server (subprocess, real HTTP) and a real Prefect server
(a subprocess API server on SQLite, as Prefect's test harness starts it)."""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import settings

from tests import hostile_counts
from tests.prefect_database import migrated_database, shared_folder

ROOT = Path(__file__).resolve().parent.parent
# What CI keeps of a run (.ci/run; in .gitignore): screenshots, the timeline.
ARTIFACTS = ROOT / "test-artifacts"
TIMELINE = ARTIFACTS / "timeline"
SCENARIO = ROOT / "deployments/scenarios/hotdash.yaml"
BIN = Path(sys.executable).parent
# Fly's times cut short for the tests (the scenario's are realistic, for the demo): machines
# boot in 0.1 s, checks report 0.1 s later, flyctl waits 1.5 s for a machine, no smoke wait,
# a volume snapshot is created 0.2 s after it was asked for.
FAST_TIMING = (
    "boot_seconds=0.1,check_seconds=0.1,smoke_check_seconds=0,wait_timeout_seconds=1.5,"
    "volume_destroy_seconds=0.1,snapshot_seconds=0.2"
)

# Hypothesis profiles (HYPOTHESIS_PROFILE): `ci`, the default for `make check` and `make test`,
# tries enough generated inputs to prove each property; `thorough` ten times as many, for a
# deliberate deep run. Tests that set `max_examples` themselves keep their own count.
settings.register_profile("ci", max_examples=250, deadline=None, database=None)
settings.register_profile("thorough", max_examples=2500, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# The keys flysim's Supabase and Shopify stand-ins require (deployments/scenarios/hotdash.yaml).
DEPENDENCY_KEYS = {
    "SUPABASE_ANON_KEY": "flysim-supabase-anon-key",
    "SHOPIFY_ACCESS_TOKEN": "flysim-shopify-access-token",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(url)


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it is still there 10 s later."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Flysim:
    """A running flysim: its URL, its token, and its control API."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        # One client for the session's control calls: a new httpx client per call builds a TLS
        # context each time, which cost more CPU than the calls themselves.
        self.http = httpx.Client(base_url=url, timeout=10)

    def env(self) -> dict[str, str]:
        """The settings that point hotdash-ops at this flysim."""
        return {
            "FLY_API_HOSTNAME": self.url,
            "FLY_PROMETHEUS_URL": f"{self.url}/prometheus",
            "FLY_API_BASE_URL": self.url,
            "FLYCTL": str(BIN / "flysim-fly"),
            "FLY_APP_URL_TEMPLATE": f"{self.url}/_apps/{{app}}",
            "SUPABASE_URL": f"{self.url}/_ext/supabase/rest/v1/",
            "SHOPIFY_SHOP_URL": f"{self.url}/_ext/shopify/admin/api/2025-10/shop.json",
            **DEPENDENCY_KEYS,
            "FLY_API_TOKEN": self.token,
            "FLY_ORG": "personal",
        }

    def state(self) -> dict:
        return self.http.get("/_sim/state").raise_for_status().json()

    def reset(self) -> None:
        self.http.post("/_sim/reset").raise_for_status()

    def patch_app(self, app: str, **changes: object) -> None:
        self.http.patch(f"/_sim/apps/{app}", json=changes).raise_for_status()

    def stop_machines(self, app: str) -> None:
        """Every machine of `app` stopped, as auto-stop leaves an idle app."""
        machines = self.state()["apps"][app]["machines"]
        self.patch_app(app, machine_states={m["id"]: "stopped" for m in machines})

    def patch_timing(self, **changes: float) -> None:
        self.http.patch("/_sim/timing", json=changes).raise_for_status()

    def patch_image(self, ref: str, **changes: object) -> None:
        self.http.patch(f"/_sim/images/{ref}", json=changes).raise_for_status()


# tryfirst: xdist reads the groups in its own collection hook, which must come after this one.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tiers from what a test needs: a Prefect server (`server`), whole stacks (`e2e`, the
    tests/e2e folder). `make check` runs what needs neither.

    And the groups `make test` hands to its xdist workers (`--dist loadgroup`): the tests
    of the shared `make demo` stack together (one stack for the session), every other module
    whole (its module-scoped fixtures are made once)."""
    e2e = ROOT / "tests" / "e2e"
    group_of: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    rank: dict[str, int] = {}
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "prefect_server" in fixtures:
            item.add_marker(pytest.mark.server)
        if e2e in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)
        shared_stack = "e2e_stack" in fixtures or "e2e" in fixtures
        group = "e2e-stack" if shared_stack else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
        group_of[item.nodeid] = group
        first_seen.setdefault(group, len(first_seen))
        if shared_stack:
            tier = 0
        elif item.get_closest_marker("e2e"):
            tier = 1
        elif item.get_closest_marker("server"):
            tier = 2
        else:
            tier = 3
        rank[group] = min(rank.get(group, tier), tier)
    # The longest groups first (`make test` passes --no-loadscope-reorder, so the workers take
    # groups in this order): the shared stack's tests (about 7 minutes together) started last
    # once kept one worker busy alone for the run's last 7 minutes. Whole groups stay together.
    items.sort(key=lambda item: (rank[group_of[item.nodeid]], first_seen[group_of[item.nodeid]]))


# When each test ran, on which xdist worker: test-artifacts/timeline/<worker>.jsonl (CI keeps
# test-artifacts/). --durations says what was slow; this says what ran beside it and which
# worker finished last.
_timeline: list[dict[str, Any]] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    """On the process that starts the run (not an xdist worker): the last run's timeline goes."""
    if not hasattr(session.config, "workerinput"):
        for old in TIMELINE.glob("*.jsonl"):
            old.unlink()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    started = time.time()
    yield
    _timeline.append({"test": item.nodeid, "start": started, "end": time.time()})


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand the hostile-input counts to the controller. On every process
    that ran tests: its timeline."""
    if _timeline:
        TIMELINE.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        lines = (json.dumps(entry) for entry in _timeline)
        (TIMELINE / f"{worker}.jsonl").write_text("\n".join(lines) + "\n")
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["hostile_counts"] = json.dumps(hostile_counts.as_report())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the xdist controller: gather each worker's counts."""
    counts = getattr(node, "workeroutput", {}).get("hostile_counts")
    if counts:
        hostile_counts.merge(json.loads(counts))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--yardstick",
        action="store_true",
        help="after the tests, time one fixed job to show this machine's speed (make test)",
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    hostile_counts.write_and_print(terminalreporter)
    if config.getoption("yardstick") and not hasattr(config, "workerinput"):
        yardstick(terminalreporter)


def yardstick(terminalreporter: Any) -> None:
    """This machine's speed drifts: one fixed job (a new interpreter importing Prefect's engine
    and a flow) took 1.7 CPU-seconds here at one hour and 2.5 at the next, and a whole run's
    time moves with it, though not in step (two runs of the same code took the same time with
    1.89 and 2.59). `make test` times that job when its tests are done (the bytecode written,
    nothing else running) and prints it, so its time can be read against the machine's speed."""
    job = subprocess.Popen(
        [str(BIN / "python"), "-c", "import prefect.engine, flows.deploy_production"], cwd=ROOT
    )
    _, status, usage = os.wait4(job.pid, 0)
    job.returncode = os.waitstatus_to_exitcode(status)
    if job.returncode == 0:
        terminalreporter.write_line(
            "machine yardstick: importing Prefect's engine and a flow took"
            f" {usage.ru_utime + usage.ru_stime:.2f} CPU-seconds after the tests (1.6 to 1.8"
            " on the 2-core machine of the README's figures, at its fastest)"
        )


class FlysimLauncher:
    """One flysim process per scenario for the whole session, started on first use (port 0:
    flysim prints the port it bound), stopped at the end. Tests share it and reset it."""

    def __init__(self) -> None:
        self.running: dict[Path, tuple[subprocess.Popen[str], Flysim]] = {}

    def get(self, scenario: Path = SCENARIO, *, token: str | None = None) -> Flysim:
        """flysim over `scenario`; `token`: the only API token it accepts (FLY_API_TOKEN)."""
        scenario = scenario.resolve()
        if scenario not in self.running:
            # Nothing of the caller's Fly settings reaches flysim (it reads FLY_API_TOKEN).
            env = {k: v for k, v in os.environ.items() if not k.startswith("FLY")}
            if token is not None:
                env["FLY_API_TOKEN"] = token
            proc = subprocess.Popen(
                [
                    str(BIN / "python"),
                    "-m",
                    "flysim",
                    "--scenario",
                    str(scenario),
                    "--port",
                    "0",
                    "--timing",
                    FAST_TIMING,
                ],  # fmt: skip
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=None,  # the server's tracebacks show in pytest's output
                text=True,
            )
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if not line.startswith("flysim listening on "):
                proc.kill()
                raise RuntimeError(f"flysim did not start for {scenario.name}: {line!r}")
            token = token or str(yaml.safe_load(scenario.read_text()).get("token") or "")
            self.running[scenario] = (
                proc,
                Flysim(line.removeprefix("flysim listening on "), token),
            )
        return self.running[scenario][1]

    def close(self) -> None:
        for proc, sim in self.running.values():
            sim.http.close()
            stop(proc)
        self.running.clear()


@pytest.fixture(scope="session")
def flysim_launcher() -> Iterator[FlysimLauncher]:
    launcher = FlysimLauncher()
    try:
        yield launcher
    finally:
        launcher.close()


@pytest.fixture(scope="session")
def flysim_server(flysim_launcher: FlysimLauncher) -> Flysim:
    """The session's flysim over the HotDash scenario (tests reset it before use)."""
    return flysim_launcher.get()


@pytest.fixture
def flysim(
    flysim_server: Flysim, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Flysim]:
    """flysim in its scenario's state, and the environment pointing at it."""
    flysim_server.reset()
    for key, value in flysim_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOTDASH_INVENTORY", str(ROOT / "deployments/inventory.yaml"))
    monkeypatch.setenv("HOTDASH_STATE_DIR", str(tmp_path / "state"))
    # Never the shipped inventory's GitHub repository: a test that deploys a commit makes its
    # own (tests.git_origin); others find no repository here, at once and offline.
    monkeypatch.setenv("HOTDASH_REPOSITORY", str(tmp_path / "no-hotdash-repository.git"))
    # Reads retried after 0.05, 0.1, 0.2 s instead of 0.5, 1, 2 s: the same retries, sooner
    # (the backoff drill in tests/e2e sets Fly's own back).
    monkeypatch.setenv("FLY_HTTP_BACKOFF_SECONDS", "0.05")
    yield flysim_server
    flysim_server.reset()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect API server for the session, on SQLite in a temp folder: the server
    Prefect's test harness (prefect.testing.utilities) starts, with its settings, started
    here because the harness picks its database itself and this one starts on a copy of the
    run's migrated database (tests/prefect_database.py)."""
    from prefect.context import _temporary_global_settings_context, get_settings_context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings
    from prefect.utilities.asyncutils import run_coro_as_sync

    db = tmp_path_factory.mktemp("prefect-server") / "prefect.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        # What the harness's server gets (prefect.server.api.server.SubprocessASGIServer):
        # no UI, the services of a temporary server, this session's settings.
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        **get_current_settings().to_environment_variables(exclude_unset=True),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{db}",
    }
    argv = [
        str(BIN / "python"), "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip
    server: subprocess.Popen[bytes] | None = None
    try:
        with migrated_database(db, shared_folder(tmp_path_factory)) as started:
            server = subprocess.Popen(argv, env=env)
            wait_http(f"{url}/health", server, timeout=90)
            started()
        # As the harness does: this context's settings, and the process-wide ones that code
        # with no context of its own (a thread started bare) falls back to (Prefect issue 15818).
        with (
            temporary_settings(updates={PREFECT_API_URL: url}),
            _temporary_global_settings_context(get_settings_context()),
        ):
            yield url

            async def drain() -> None:
                # What this process still sends (logs, events) reaches the server before it
                # stops, as the harness does (drain returns an awaitable inside a loop).
                try:
                    logs = APILogWorker.instance().drain()
                    if inspect.isawaitable(logs):
                        await logs
                except RuntimeError:  # the log worker never started
                    pass
                events = EventsWorker.drain_all()
                if inspect.isawaitable(events):
                    await events

            run_coro_as_sync(drain())
    finally:
        if server is not None:
            stop(server)
