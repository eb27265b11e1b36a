"""Stand the local hotdash-ops stack up: flysim, a Prefect server, the work pool, every
deployment of prefect.yaml and a worker; then run `daily-health-check` once.

`make demo` runs `python deployments/stack.py demo`. The stack stays up in the foreground
until Ctrl-C (SIGINT) or SIGTERM, then stops every child process it started.

Settings (environment):
    PREFECT_SERVER_API_PORT   Prefect server port (default 4200)
    FLYSIM_PORT               flysim port (default 4280)
    FLYSIM_SCENARIO           scenario file (default deployments/scenarios/hotdash.yaml)
    FLYSIM_TIMING             overrides the scenario's timing, e.g. boot_seconds=0.1,...
                              (the tests' short times; the demo's are realistic)
    HOTDASH_STATE_DIR         the one folder holding all state (default .state/stack-<port>),
                              reused by the next run; keyed by port so two stacks never collide
    ALERT_WEBHOOK_URL         when set, a webhook notification block is created from it
    ESCALATION_WEBHOOK_URL    when set, the `hotdash-escalation` block (incidents past their
                              response target) is created from it; else escalations go to
                              the alerts block, marked [ESCALATION]
    HOTDASH_REPOSITORY        the HotDash repository deploy-staging builds from (default: a local
                              repository made at first start from deployments/demo-checkout,
                              <state>/hotdash.git, so the deploys run offline)

Before registering the deployments it checks that prefect.yaml's schedules use the inventory's
timezone (the project's one timezone setting) and refuses to go on when they differ.

The stack runs the real Prefect parts (server on SQLite, process work pool, worker); only
Fly.io is simulated, and only when FLY_API_HOSTNAME is not already set to something else.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORK_POOL = "hotdash"
INVENTORY = ROOT / "deployments/inventory.yaml"
HEALTH_DEPLOYMENT = "daily-health-check/daily-health-check"

_PR_SET_PDEATHSIG = 1


def _as_stack_child() -> None:
    """In each child before it starts: SIGTERM if the stack process dies, so nothing is left
    orphaned; and SIGINT back to its default. A shell without job control (a script, CI) that
    starts the stack in the background (`make demo &`) leaves SIGINT ignored, children inherit
    that, and Prefect's worker answers SIGTERM by sending itself SIGINT: ignored, it never
    stops."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class StackConfig:
    prefect_port: int
    flysim_port: int
    scenario: Path
    state_dir: Path
    alert_webhook_url: str | None = None
    flysim_timing: str | None = None  # `python -m flysim --timing`: the scenario's if unset

    @classmethod
    def from_env(cls) -> StackConfig:
        prefect_port = int(os.environ.get("PREFECT_SERVER_API_PORT", "4200"))
        state = os.environ.get("HOTDASH_STATE_DIR") or str(
            ROOT / ".state" / f"stack-{prefect_port}"
        )
        return cls(
            prefect_port=prefect_port,
            flysim_port=int(os.environ.get("FLYSIM_PORT", "4280")),
            scenario=Path(
                os.environ.get("FLYSIM_SCENARIO", ROOT / "deployments/scenarios/hotdash.yaml")
            ).resolve(),
            state_dir=Path(state).resolve(),
            alert_webhook_url=os.environ.get("ALERT_WEBHOOK_URL") or None,
            flysim_timing=os.environ.get("FLYSIM_TIMING") or None,
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}"

    @property
    def flysim_url(self) -> str:
        return f"http://127.0.0.1:{self.flysim_port}"

    def auth_string(self) -> str:
        """The server's basic-auth string, made on first start, kept owner-only."""
        path = self.state_dir / "prefect-auth-string"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(f"hotdash:{secrets.token_urlsafe(24)}")
        os.chmod(path, 0o600)
        return path.read_text().strip()

    def environment(self) -> dict[str, str]:
        """Environment shared by every child: server, worker, and through it every flow run."""
        env = dict(os.environ)
        auth = self.auth_string()
        env.update(
            PREFECT_HOME=str(self.state_dir / "prefect"),
            PREFECT_API_URL=self.api_url,
            PREFECT_UI_API_URL=self.api_url,
            PREFECT_SERVER_API_HOST="127.0.0.1",
            PREFECT_SERVER_API_PORT=str(self.prefect_port),
            PREFECT_SERVER_API_AUTH_STRING=auth,
            PREFECT_API_AUTH_STRING=auth,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            # A busy SQLite answers 503 to the UI, which does not retry; say so in the log.
            PREFECT_SERVER_LOG_RETRYABLE_ERRORS="true",
            PREFECT_WORKER_QUERY_SECONDS="2",
            PREFECT_RUNNER_POLL_FREQUENCY="2",
            HOTDASH_HOME=str(ROOT),
            HOTDASH_STATE_DIR=str(self.state_dir),
            HOTDASH_INVENTORY=str(INVENTORY),
        )
        if "FLY_API_HOSTNAME" not in os.environ:
            # No real Fly.io configured: point everything at flysim.
            env.update(
                FLY_API_HOSTNAME=self.flysim_url,
                FLY_PROMETHEUS_URL=f"{self.flysim_url}/prometheus",
                FLY_API_BASE_URL=self.flysim_url,
                FLYCTL=str(BIN / "flysim-fly"),
                FLY_APP_URL_TEMPLATE=f"{self.flysim_url}/_apps/{{app}}",
                SUPABASE_URL=f"{self.flysim_url}/_ext/supabase/rest/v1/",
                SHOPIFY_SHOP_URL=f"{self.flysim_url}/_ext/shopify/admin/api/2025-10/shop.json",
                # The keys the scenario's Supabase and Shopify stand-ins require.
                **_scenario_keys(self.scenario),
                FLY_API_TOKEN=os.environ.get("FLY_API_TOKEN") or _scenario_token(self.scenario),
            )
        # deploy-staging builds and tests commits of this repository (the inventory's own
        # is on GitHub; the demo runs offline).
        env.setdefault("HOTDASH_REPOSITORY", str(demo_repository(self.state_dir)))
        return env

    @property
    def simulated(self) -> bool:
        return "FLY_API_HOSTNAME" not in os.environ


DEMO_CHECKOUT = ROOT / "deployments/demo-checkout"
DEMO_IDENTITY = ["-c", "user.name=HotDash demo", "-c", "user.email=demo@hotdash.test"]


def demo_repository(state_dir: Path) -> Path:
    """The demo's HotDash repository (bare), made at first start from
    deployments/demo-checkout: `main` with the checkout, and a branch `feature/unmerged` one
    commit ahead of it (deploy-staging refuses it: not merged to main)."""
    repo = state_dir / "hotdash.git"
    if (repo / "HEAD").exists():
        return repo

    def git(*args: str) -> None:
        subprocess.run(["git", *DEMO_IDENTITY, *args], check=True, capture_output=True)

    with tempfile.TemporaryDirectory(prefix="hotdash-demo-") as tmp:
        work = Path(tmp) / "HotDash"
        shutil.copytree(DEMO_CHECKOUT, work)
        git("init", "--quiet", "--initial-branch=main", str(work))
        git("-C", str(work), "add", "--all")
        git("-C", str(work), "commit", "--quiet", "-m", "HotDash demo: the npm test scripts")
        git("-C", str(work), "switch", "--quiet", "-c", "feature/unmerged")
        git("-C", str(work), "commit", "--quiet", "--allow-empty", "-m", "Work not merged yet")
        git("-C", str(work), "switch", "--quiet", "main")
        partial = repo.with_name("hotdash.git.partial")  # a crash never leaves half a repo
        shutil.rmtree(partial, ignore_errors=True)
        git("clone", "--quiet", "--bare", "--no-local", str(work), str(partial))
        git("-C", str(partial), "fetch", "--quiet", "origin", "feature/unmerged:feature/unmerged")
        partial.rename(repo)
    return repo


def check_schedule_timezone(inventory_path: Path) -> None:
    """prefect.yaml's schedules must use the inventory's timezone (one setting)."""
    import yaml

    from hotdash_ops.inventory import load_inventory, schedule_timezone_problems

    inventory = load_inventory(inventory_path)
    problems = schedule_timezone_problems(
        yaml.safe_load((ROOT / "prefect.yaml").read_text()), inventory.timezone
    )
    if problems:
        raise RuntimeError(
            "; ".join(problems)
            + f". Set definitions.timezone in prefect.yaml to {inventory.timezone}."
        )


# Which environment variable carries the key of each outside service (the inventory's
# `dependencies:` headers) in the demo.
_DEPENDENCY_KEY_ENV = {"supabase": "SUPABASE_ANON_KEY", "shopify": "SHOPIFY_ACCESS_TOKEN"}


def _scenario_keys(scenario: Path) -> dict[str, str]:
    """The keys of the scenario's outside services, unless the environment already has them."""
    import yaml

    external = (yaml.safe_load(scenario.read_text()) or {}).get("external") or {}
    keys = {}
    for name, env in _DEPENDENCY_KEY_ENV.items():
        auth = (external.get(name) or {}).get("auth") or {}
        if auth.get("value"):
            keys[env] = os.environ.get(env) or str(auth["value"])
    return keys


def _exit(code: int | None) -> str:
    """`exit 1` or `killed by SIGKILL` (a negative return code is the signal)."""
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit {code}"


def deployment_names() -> list[str]:
    """The deployments prefect.yaml declares (what `prefect deploy --all` registers)."""
    import yaml

    data = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    return [str(d["name"]) for d in data.get("deployments") or []]


def _scenario_token(scenario: Path) -> str:
    import yaml

    data = yaml.safe_load(scenario.read_text())
    return str(data.get("token") or "")


@dataclass
class Stack:
    config: StackConfig
    env: dict[str, str] = field(default_factory=dict)
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        (self.config.state_dir / "logs").mkdir(exist_ok=True)
        self.env = self.config.environment()

    # -- processes -------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.config.state_dir / "logs" / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the stack, which stops children in order
            preexec_fn=_as_stack_child,
        )
        self.children.append((name, proc))
        return proc

    def stop(self) -> None:
        """Stop children in reverse start order: worker, then server, then flysim. A child
        that stops when asked is just "stopped"; one that had died before, or had to be
        killed, says so with its exit status."""
        for name, proc in reversed(self.children):
            if proc.poll() is not None:
                say(f"stopped {name}: it had already exited ({_exit(proc.returncode)})")
                continue
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                say(f"stopped {name}: killed after 15 s without stopping")
                continue
            if proc.returncode in (0, -signal.SIGTERM, 128 + signal.SIGTERM):
                say(f"stopped {name}")
            else:
                say(f"stopped {name} ({_exit(proc.returncode)})")
        self.children.clear()

    def check_children(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None:
                log = self.config.state_dir / "logs" / f"{name}.log"
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {log}")

    def prefect(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a `prefect` CLI command against this stack; its output is shown if it fails."""
        out = subprocess.run(
            [str(BIN / "prefect"), "--no-prompt", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
        return out

    def wait_http(self, url: str, *, name: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        auth = tuple(self.env["PREFECT_API_AUTH_STRING"].split(":", 1))
        while time.monotonic() < deadline:
            self.check_children()
            try:
                if httpx.get(url, timeout=2.0, auth=auth).status_code < 500:  # type: ignore[arg-type]
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{name} did not answer at {url} within {timeout:.0f} s")

    # -- the steps -------------------------------------------------------------------------
    @staticmethod
    def require_free(port: int, what: str) -> None:
        """Refuse to start on a port something else answers on (another stack, a stale run)."""
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                raise RuntimeError(
                    f"port {port} for {what} is already in use; stop what runs there or "
                    f"choose another port"
                )

    def start_flysim(self) -> None:
        cfg = self.config
        self.require_free(cfg.flysim_port, "flysim (FLYSIM_PORT)")
        self.spawn(
            "flysim",
            [
                str(BIN / "python"),
                "-m",
                "flysim",
                "--scenario",
                str(cfg.scenario),
                "--port",
                str(cfg.flysim_port),
                *(["--timing", cfg.flysim_timing] if cfg.flysim_timing else []),
            ],
        )
        self.wait_http(f"{cfg.flysim_url}/_sim/state", name="flysim")
        say(f"flysim        {cfg.flysim_url}  (scenario {cfg.scenario.name})")

    def start_server(self) -> None:
        self.require_free(self.config.prefect_port, "Prefect (PREFECT_SERVER_API_PORT)")
        self.spawn("prefect-server", [str(BIN / "prefect"), "server", "start"])
        self.wait_http(f"{self.config.api_url}/health", name="Prefect server")
        say(f"Prefect       {self.config.ui_url}")

    def register(self) -> None:
        check_schedule_timezone(Path(self.env["HOTDASH_INVENTORY"]))
        self.prefect("work-pool", "create", WORK_POOL, "--type", "process", "--overwrite")
        self.prefect("deploy", "--all")
        # Counted on the server, not in the CLI's output (its boxes wrap long names).
        wanted = deployment_names()
        missing = sorted(set(wanted) - self.registered_deployments(wanted))
        if missing:
            raise RuntimeError(f"prefect deploy --all did not register: {', '.join(missing)}")
        say(f"deployments   {len(wanted)} registered from prefect.yaml on work pool '{WORK_POOL}'")
        if self.config.alert_webhook_url:
            self.run_python("from tasks.notify import save_webhook_block; save_webhook_block()")
            say("alerts        webhook block created from ALERT_WEBHOOK_URL")
        else:
            say("alerts        no ALERT_WEBHOOK_URL: messages kept in <state>/notifications.jsonl")
        if os.environ.get("ESCALATION_WEBHOOK_URL"):
            self.run_python(
                "from tasks.notify import ESCALATION_BLOCK, save_webhook_block; "
                "save_webhook_block(name=ESCALATION_BLOCK, env='ESCALATION_WEBHOOK_URL')"
            )
            say("escalation    webhook block created from ESCALATION_WEBHOOK_URL")
        # After the block, so the "monitor silent for 35 minutes" automation can notify it.
        self.run_python("from deployments.automations import create_automations as c; c()")
        say("automations   infrastructure-monitor-silent (no completed monitor run in 35 min)")

    def registered_deployments(self, names: list[str]) -> set[str]:
        """Which of `names` are deployments on the server (POST /api/deployments/filter)."""
        auth = tuple(self.env["PREFECT_API_AUTH_STRING"].split(":", 1))
        found = httpx.post(
            f"{self.config.api_url}/deployments/filter",
            json={"deployments": {"name": {"any_": names}}, "limit": 200},
            auth=auth,  # type: ignore[arg-type]
            timeout=30,
        )
        found.raise_for_status()
        return {str(d["name"]) for d in found.json()}

    def run_python(self, code: str) -> str:
        out = subprocess.run(
            [str(BIN / "python"), "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout

    def start_worker(self) -> None:
        self.spawn(
            "worker",
            [str(BIN / "prefect"), "worker", "start", "--pool", WORK_POOL, "--type", "process"],
        )
        say(f"worker        polling work pool '{WORK_POOL}'")

    def run_health_check(self) -> dict[str, object]:
        """Run daily-health-check through the worker and return its outcome.

        A child process does it: Prefect's clients keep background threads that would hold this
        process open after the server it talks to has been stopped.
        """
        out = subprocess.run(
            [str(BIN / "python"), __file__, "run-deployment", HEALTH_DEPLOYMENT],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
        return result


def run_deployment_and_report(name: str) -> dict[str, object]:
    """Run a deployment, wait for its end, and return its state and markdown artifact."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.deployments import run_deployment

    run = run_deployment(name, timeout=600, poll_interval=1)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
    report = next((a.data for a in artifacts if a.type == "markdown"), "")
    state = run.state
    return {
        "flow_run_id": str(run.id),
        "state": state.name if state else "unknown",
        "message": state.message if state else "",
        "report": report,
    }


def say(line: str) -> None:
    print(line, flush=True)


def demo(config: StackConfig, *, keep_running: bool = True) -> int:
    stack = Stack(config)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    say(f"state folder  {config.state_dir}")
    try:
        if config.simulated:
            stack.start_flysim()
        stack.start_server()
        stack.register()
        stack.start_worker()
        say("running       daily-health-check ...")
        result = stack.run_health_check()
        say("")
        say(str(result.get("report", "")).rstrip())
        say("")
        say(
            f"daily-health-check finished: {result['state']} "
            f"({result.get('message') or 'no message'}) in {time.monotonic() - started:.1f} s"
        )
        say(f"run           {config.ui_url}/runs/flow-run/{result['flow_run_id']}")
        say(f"Prefect UI    {config.ui_url}")
        # Prefect's login page has one field that takes the whole basic-auth string.
        login = config.auth_string()
        say(f"UI login      paste this whole line in the login page's field: {login}")
        say(f"              (it is kept in {config.state_dir}/prefect-auth-string)")
        if not keep_running:
            return 0
        say("the stack is up; press Ctrl-C to stop it")
        while True:
            stack.check_children()
            time.sleep(1)
    except KeyboardInterrupt:
        say("")
        say("stopping ...")
        return 0
    except (RuntimeError, TimeoutError) as exc:
        say(f"error: {exc}")
        return 1
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command",
        choices=["demo", "run-deployment"],
        help="demo: stand up, run the health check, stay up; "
        "run-deployment NAME: run one deployment on a stack that is up and print its outcome",
    )
    parser.add_argument("name", nargs="?", default=HEALTH_DEPLOYMENT)
    parser.add_argument("--once", action="store_true", help="stop after the health check")
    args = parser.parse_args(argv)
    if args.command == "run-deployment":
        print(json.dumps(run_deployment_and_report(args.name)))
        return 0
    return demo(StackConfig.from_env(), keep_running=not args.once)


if __name__ == "__main__":
    sys.exit(main())
