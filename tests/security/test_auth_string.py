"""The Prefect API is not open: `prefect server start` the way deployments/stack.py runs it
(its StackConfig makes the auth string and the environment) refuses requests without the auth
string, over HTTP and over websockets, and the string is kept owner-only and reused."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import BIN, ROOT, SCENARIO, free_port, wait_http

pytestmark = pytest.mark.server  # starts `prefect server start` of its own: not `make check`'s


def load_stack() -> ModuleType:
    """deployments/stack.py (not a package): imported by path."""
    spec = importlib.util.spec_from_file_location("hotdash_stack", ROOT / "deployments/stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stack_config(tmp_path: Path) -> object:
    stack = load_stack()
    return stack.StackConfig(
        prefect_port=free_port(),
        flysim_port=free_port(),
        scenario=SCENARIO,
        state_dir=tmp_path / "state",
    )


class Server:
    """`prefect server start` in its own process group, with the stack's environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--no-services"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.api = env["PREFECT_API_URL"]
        wait_http(f"{self.api}/health", self.proc, timeout=120)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


PROTECTED = [
    ("POST", "/flow_runs/filter", {}),
    ("POST", "/block_documents/filter", {}),
    ("POST", "/variables/filter", {}),
    ("GET", "/admin/settings", None),
]


def request(api: str, method: str, path: str, body: object, auth: object = None) -> int:
    return httpx.request(method, api + path, json=body, auth=auth, timeout=10).status_code


def events_socket_refusal(api: str, token: str | None, subprotocol: bool = True) -> str:
    """How the events websocket treats a client: 'accepted', or the close reason."""
    url = api.replace("http://", "ws://") + "/events/out"
    try:
        with connect(url, subprotocols=["prefect"] if subprotocol else None, open_timeout=10) as ws:
            ws.send(json.dumps({"type": "auth", "token": token}))
            ws.send(json.dumps({"type": "filter", "filter": {}}))
            ws.recv(timeout=2)
    except ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else '?'}: {exc.rcvd.reason if exc.rcvd else ''}"
    except TimeoutError:
        return "accepted"  # no event within 2 s, but the stream is open
    except Exception as exc:  # the handshake itself refused
        return f"refused: {exc}"
    return "accepted"


def test_the_auth_string_is_owner_only_reused_and_the_api_refuses_requests_without_it(
    stack_config: object, servers: list[Server], tmp_path: Path
) -> None:
    # The first start of a state folder makes the string: owner-only, long, loopback only.
    first = stack_config.environment()
    path = tmp_path / "state" / "prefect-auth-string"
    auth_string = path.read_text().strip()
    assert (
        first["PREFECT_SERVER_API_AUTH_STRING"] == first["PREFECT_API_AUTH_STRING"] == auth_string
    )
    user, password = auth_string.split(":", 1)
    assert user == "hotdash" and len(password) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert first["PREFECT_SERVER_API_HOST"] == "127.0.0.1"  # loopback only

    # Someone loosened the file: the next start of the same folder tightens it and reuses it.
    path.chmod(0o644)
    stack = load_stack()
    again = stack.StackConfig(
        prefect_port=stack_config.prefect_port,
        flysim_port=stack_config.flysim_port,
        scenario=stack_config.scenario,
        state_dir=tmp_path / "state",
    )
    env = again.environment()
    assert env["PREFECT_SERVER_API_AUTH_STRING"] == auth_string
    assert path.stat().st_mode & 0o777 == 0o600
    # A state folder of another stack gets another string.
    other = stack.StackConfig(
        prefect_port=free_port(),
        flysim_port=free_port(),
        scenario=again.scenario,
        state_dir=tmp_path / "other-state",
    )
    assert other.auth_string() != auth_string

    # The server started with the kept string accepts it and refuses everything else.
    server = Server(env, tmp_path / "server.log")
    servers.append(server)
    api = server.api
    for method, route, body in PROTECTED:
        assert request(api, method, route, body) == 401, route
        assert request(api, method, route, body, auth=(user, "wrong")) == 401, route
        assert request(api, method, route, body, auth=("admin", password)) == 401, route
        assert request(api, method, route, body, auth=(user, password)) == 200, route
    # Probes stay open (they tell nothing): the only unauthenticated answers.
    assert httpx.get(f"{api}/health", timeout=10).status_code == 200

    # Without the "prefect" subprotocol the socket is closed before it opens (HTTP 403).
    assert "HTTP 403" in events_socket_refusal(api, None, subprotocol=False)
    assert "Auth required" in events_socket_refusal(api, None)
    assert "Invalid token" in events_socket_refusal(api, f"{user}:wrong")
    assert events_socket_refusal(api, auth_string) == "accepted"

    # A Prefect client with the auth string works; without it, it is refused.
    code = "from prefect import get_client\nwith get_client(sync_client=True) as c: print(len(c.read_flow_runs()))"
    ok = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == "0", ok.stderr[-2000:]
    no_auth = {k: v for k, v in env.items() if k != "PREFECT_API_AUTH_STRING"}
    refused = subprocess.run(
        [sys.executable, "-c", code], env=no_auth, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "401" in refused.stderr, refused.stderr[-2000:]
