"""How flyctl changes an app's machines, reproduced for ``flysim-fly`` over the Machines API.

flyctl does the work of a deploy itself (client side), so flysim-fly does too, with the same
steps, waits and leases (superfly/flyctl@ad0172fa; paths below are in that repository):

* every deploy records a ``running`` release first and marks it ``complete``, ``failed`` or,
  when SIGINT/SIGTERM cancels it, ``interrupted`` (internal/command/deploy/
  machines_deploymachinesapp.go ``DeployMachinesApp``); a SIGKILLed flyctl leaves it
  ``running``;
* it leases every machine first (``AcquireLeases``, TTL ``--lease-timeout`` 13 s, refreshed in
  the background) and sends the lease's nonce with each change;
* each machine's new config is its current one with the new image, the release metadata and
  its ``services`` rebuilt from the app config (internal/command/deploy/
  machines_launchinput.go ``launchInputForUpdate`` -> appconfig ``ToMachineConfig``); a machine
  not started is updated with ``skip_launch`` (``shouldSkipLaunch``);
* ``rolling``: machines sorted by id, stopped ones first, then the started ones: one
  "spearhead", then the rest ``max_unavailable`` at a time (0.33 of them, or a count when >= 1;
  ``updateUsingRollingStrategy``/``getPoolSize``); each started machine is waited for: started
  (``--wait-timeout``, 5 min), up for the smoke checks' 10 s, all its checks passing
  (``waitForMachine``);
* ``immediate``: every update sent, none waited for (``updateUsingImmediateStrategy``): flyctl
  exits 0 while the machines still boot;
* ``canary``: one new machine per process group, waited for like a rolling one and destroyed,
  then ``rolling`` (``deployCanaryMachines``); not with volumes (internal/appconfig/
  validation.go);
* ``bluegreen``: a new, unregistered machine next to each old one, all waited for (started,
  checks passing), then uncordoned, the old ones cordoned, stopped and destroyed
  (strategy_bluegreen.go ``Deploy``); needs a check and no volumes (docs
  reference/configuration "bluegreen").

``fly scale vm`` and ``fly apps restart`` take leases and change one machine at a time,
waiting for each (internal/command/scale/machines.go ``v2ScaleVM`` -> internal/machine/
update.go ``Update``; internal/command/apps/restart.go -> internal/machine/restart.go).
"""

from __future__ import annotations

import copy
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from flysim import appconfig
from flysim.flyctl_http import APIError, Client, CLIError

STOPPED_POOL = 30  # internal/command/deploy/plan.go STOPPED_MACHINES_POOL_SIZE
LEASE_RETRY_SECONDS = 60.0  # fly-go flaps/retry.go: MaxElapsedTime 1 minute
MAX_CONCURRENT = 8  # internal/command/deploy/deploy.go defaultMaxConcurrent
INTERNAL_GROUPS = ("fly_app_release_command", "fly_app_console")


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (flyctl's context is canceled; it exits 127)."""


@dataclass
class Waits:
    """flyctl's waits (its defaults come from the flysim scenario's timing)."""

    wait_timeout: float = 300.0
    smoke_seconds: float = 10.0
    lease_ttl: float = 13.0
    health_checks: bool = True
    smoke_checks: bool = True

    @property
    def poll(self) -> float:
        # flyctl polls checks every 1-2 s; flysim scales that down with a short wait timeout.
        return min(1.0, max(0.02, self.wait_timeout / 20))


@dataclass
class Entry:
    """One machine and what it becomes."""

    machine: dict[str, Any]
    config: dict[str, Any]
    skip_launch: bool

    @property
    def id(self) -> str:
        return str(self.machine["id"])

    @property
    def group(self) -> str:
        return str(self.machine.get("config", {}).get("metadata", {}).get("fly_process_group")
                   or appconfig.DEFAULT_GROUP)  # fmt: skip


def check_count(config: dict[str, Any]) -> int:
    """Checks configured on a machine (flyctl counts config, not the runtime status)."""
    count = len(config.get("checks") or {})
    for service in config.get("services") or []:
        count += len(service.get("checks") or [])
    return count


def should_skip_launch(machine: dict[str, Any]) -> bool:
    """machines_launchinput.go ``shouldSkipLaunch``: only started/starting/failed ones launch."""
    return machine.get("state") not in ("started", "starting", "failed")


def run_pool(
    items: list[Any], work: Callable[[Any], None], size: int, cancel: threading.Event
) -> None:
    """Run `work` over `items`, `size` at a time, in daemon threads (a signal to the main
    thread must be able to end the process); the first error cancels the rest."""
    if not items:
        return
    todo: queue.Queue[Any] = queue.Queue()
    for item in items:
        todo.put(item)
    errors: list[BaseException] = []

    def worker() -> None:
        while not cancel.is_set():
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                work(item)
            except BaseException as exc:  # handed to the main thread
                errors.append(exc)
                cancel.set()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, size))]
    for thread in threads[: len(items)]:
        thread.start()
    for thread in threads[: len(items)]:
        while thread.is_alive():
            thread.join(0.05)  # short joins: SIGTERM is handled in the main thread
    if errors:
        raise errors[0]


class AppMachines:
    """One app's machines as flyctl's LeasableMachine sees them: leases, updates, waits."""

    def __init__(self, client: Client, app: str, waits: Waits, out: TextIO) -> None:
        self.client = client
        self.app = app
        self.waits = waits
        self.out = out
        self.nonces: dict[str, str] = {}
        self.cancel = threading.Event()
        self._refresher: threading.Thread | None = None
        self._print = threading.Lock()

    def say(self, line: str) -> None:
        with self._print:
            print(line, file=self.out, flush=True)

    def _path(self, machine_id: str, tail: str = "") -> str:
        return f"/v1/apps/{self.app}/machines/{machine_id}{tail}"

    def list_active(self) -> list[dict[str, Any]]:
        """The machines a deploy manages (fly-go ``ListFlyAppsMachines``: v2, active, not the
        release command's or a console's)."""
        machines = self.client.call("GET", f"/v1/apps/{self.app}/machines", self.app)
        return sorted(
            (
                m
                for m in machines
                if m.get("state") not in ("destroyed", "destroying")
                and m.get("config", {}).get("metadata", {}).get("fly_platform_version") == "v2"
                and m.get("config", {}).get("metadata", {}).get("fly_process_group")
                not in INTERNAL_GROUPS
            ),
            key=lambda m: m["id"],
        )

    def get(self, machine_id: str) -> dict[str, Any]:
        return self.client.call("GET", self._path(machine_id), self.app)  # type: ignore[no-any-return]

    # leases ---------------------------------------------------------------------------------

    def acquire_leases(self, ids: Iterable[str]) -> None:
        """Lease each machine; a lease held by someone else is asked for again with backoff
        for up to a minute (fly-go flaps/flaps_machines.go `AcquireLease` with flaps/retry.go
        `Retry`: 100 ms doubling to 500 ms, 1 min in all), as when an interrupted deploy's
        leases have not expired yet."""
        ttl = str(max(1, math.ceil(self.waits.lease_ttl)))
        for machine_id in ids:
            deadline, delay = time.monotonic() + LEASE_RETRY_SECONDS, 0.1
            while True:
                try:
                    lease = self.client.call(
                        "POST", self._path(machine_id, "/lease"), self.app,
                        params={"ttl": ttl}, json_body={"description": "flysim-fly deploy"},
                    )  # fmt: skip
                    break
                except APIError as exc:
                    if exc.status != 409 or time.monotonic() + delay > deadline:
                        raise
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
            self.nonces[machine_id] = lease["data"]["nonce"]
        if self._refresher is None:
            self._refresher = threading.Thread(target=self._refresh, daemon=True)
            self._refresher.start()

    def _refresh(self) -> None:
        # StartBackgroundLeaseRefresh: renew before the short TTL runs out.
        ttl = str(max(1, math.ceil(self.waits.lease_ttl)))
        while not self.cancel.wait(max(0.5, self.waits.lease_ttl / 3)):
            for machine_id, nonce in list(self.nonces.items()):
                try:
                    self.client.call(
                        "POST", self._path(machine_id, "/lease"), self.app,
                        params={"ttl": ttl}, nonce=nonce, timeout=5,
                    )  # fmt: skip
                except CLIError:
                    pass  # a destroyed machine, or a transient error: the next round retries

    def release_leases(self, *, timeout: float = 5) -> None:
        """Release every lease held (flyctl gives itself 500 ms when it was interrupted:
        internal/machine/machine_set.go `ReleaseLeases`); a lease not released expires."""
        self.cancel.set()
        for machine_id, nonce in list(self.nonces.items()):
            try:
                self.client.call(
                    "DELETE", self._path(machine_id, "/lease"), self.app, nonce=nonce,
                    timeout=timeout,
                )  # fmt: skip
            except CLIError:
                pass  # releaseLease only warns
        self.nonces.clear()

    # changes --------------------------------------------------------------------------------

    def update(self, entry: Entry) -> dict[str, Any]:
        body = {"config": entry.config, "skip_launch": entry.skip_launch}
        return self.client.call(  # type: ignore[no-any-return]
            "POST", self._path(entry.id), self.app, json_body=body, nonce=self.nonces.get(entry.id)
        )

    def action(self, machine_id: str, verb: str, *, nonce: str | None = None) -> None:
        self.client.call(
            "POST", self._path(machine_id, f"/{verb}"), self.app,
            nonce=nonce or self.nonces.get(machine_id),
        )  # fmt: skip

    def destroy(self, machine_id: str, *, nonce: str | None = None) -> None:
        self.client.call(
            "DELETE", self._path(machine_id), self.app, params={"force": "true"},
            nonce=nonce or self.nonces.pop(machine_id, None),
        )  # fmt: skip

    # waits ----------------------------------------------------------------------------------

    def wait_state(self, machine_id: str, state: str, instance_id: str | None = None) -> None:
        """``GET .../wait`` until the machine is in `state` (WaitForState, --wait-timeout)."""
        deadline = time.monotonic() + self.waits.wait_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.cancel.is_set():
                raise CLIError(
                    f"timeout reached waiting for machine {machine_id} to be {state}: "
                    "context deadline exceeded"
                )
            params = {"state": state, "timeout": str(max(1, min(60, math.ceil(left))))}
            if instance_id:
                params["instance_id"] = instance_id
            try:
                self.client.call(
                    "GET", self._path(machine_id, "/wait"), self.app, params=params,
                    timeout=min(60, math.ceil(left)) + 10,
                )  # fmt: skip
                return
            except APIError as exc:
                if exc.status != 408:
                    raise

    def wait_smoke(self, machine_id: str) -> None:
        """WaitForSmokeChecksToPass: watch a new machine's uptime for 10 s (flysim's machines
        do not crash, so this is the wait alone)."""
        if not self.waits.smoke_checks or self.waits.smoke_seconds <= 0:
            return
        deadline = time.monotonic() + self.waits.smoke_seconds
        while not self.cancel.is_set() and time.monotonic() < deadline:
            time.sleep(min(0.5, deadline - time.monotonic()))

    def wait_checks(self, machine_id: str) -> None:
        """WaitForHealthchecksToPass: every configured check passing, within --wait-timeout."""
        if not self.waits.health_checks:
            return
        deadline = time.monotonic() + self.waits.wait_timeout
        while not self.cancel.is_set():
            machine = self.get(machine_id)
            if check_count(machine.get("config") or {}) == 0:
                return
            checks = machine.get("checks") or []
            if checks and all(c.get("status") == "passing" for c in checks):
                return
            if time.monotonic() >= deadline:
                raise CLIError(
                    f"timeout reached waiting for health checks to pass for machine "
                    f"{machine_id}: context deadline exceeded"
                )
            time.sleep(self.waits.poll)

    def settle(self, machine: dict[str, Any]) -> None:
        """Started, through the smoke checks, checks passing (deploy's waitForMachine)."""
        self.wait_state(machine["id"], "started", machine.get("instance_id"))
        self.wait_smoke(machine["id"])
        self.wait_checks(machine["id"])


@dataclass
class Deploy:
    """``fly deploy``'s machine work for one release (see the module docstring)."""

    ops: AppMachines
    image: str
    config: dict[str, Any]
    release: dict[str, Any]
    strategy: str = "rolling"
    max_unavailable: float = 0.33
    entries: list[Entry] = field(default_factory=list)
    done: int = 0

    def plan(self, machines: list[dict[str, Any]]) -> None:
        self.entries = [
            Entry(m, self.new_config(m["config"]), should_skip_launch(m)) for m in machines
        ]

    def new_config(self, old: dict[str, Any]) -> dict[str, Any]:
        """The machine's config with the new image, release metadata and services."""
        config = copy.deepcopy(old)
        config["image"] = self.image
        meta = config.setdefault("metadata", {})
        meta["fly_release_id"] = str(self.release["ID"])
        meta["fly_release_version"] = str(self.release["Version"])
        meta.setdefault("fly_platform_version", "v2")
        group = meta.setdefault("fly_process_group", appconfig.DEFAULT_GROUP)
        services = appconfig.machine_services(self.config, group)
        if services:
            config["services"] = services
        else:
            config.pop("services", None)
        return config

    def pool_size(self, count: int) -> int:
        """``getPoolSize``: a count when >= 1, else that share of the machines, rounded up."""
        if self.max_unavailable >= 1:
            return int(self.max_unavailable)
        return max(1, math.ceil(count * self.max_unavailable))

    def _report(self, entry: Entry, verdict: str) -> None:
        self.done += 1
        mark = "✔" if verdict == "update succeeded" else "✖"
        self.ops.say(f" {mark} [{self.done}/{len(self.entries)}] Machine {entry.id} "
                     f"[{entry.group}] {verdict}")  # fmt: skip

    def _update(self, entry: Entry, *, wait: bool) -> None:
        try:
            updated = self.ops.update(entry)
            if wait and not entry.skip_launch:
                self.ops.settle(updated)
        except CLIError as exc:
            self._report(entry, f"update failed: {exc}")
            raise
        self._report(entry, "update succeeded")

    def run(self) -> None:
        self.ops.say(f"Updating existing machines in '{self.ops.app}' with {self.strategy} "
                     "strategy")  # fmt: skip
        self.ops.say("-------")
        try:
            getattr(self, f"_{self.strategy}")()
        finally:
            self.ops.say("-------")

    def _rolling(self, entries: list[Entry] | None = None) -> None:
        entries = sorted(self.entries if entries is None else entries, key=lambda e: e.id)
        groups: dict[str, list[Entry]] = {}
        for entry in entries:
            groups.setdefault(entry.group, []).append(entry)
        cancel = self.ops.cancel
        for members in groups.values():
            cold = [e for e in members if e.machine.get("state") != "started"]
            warm = [e for e in members if e.machine.get("state") == "started"]
            run_pool(cold, lambda e: self._update(e, wait=True), min(len(cold), STOPPED_POOL),
                     cancel)  # fmt: skip
            if warm:
                self._update(warm[0], wait=True)  # the spearhead, alone
                run_pool(warm[1:], lambda e: self._update(e, wait=True),
                         self.pool_size(len(warm)), cancel)  # fmt: skip

    def _immediate(self) -> None:
        run_pool(self.entries, lambda e: self._update(e, wait=False), MAX_CONCURRENT,
                 self.ops.cancel)  # fmt: skip

    def _canary(self) -> None:
        for group in sorted({e.group for e in self.entries}):
            template = next(e for e in self.entries if e.group == group)
            config = copy.deepcopy(template.config)
            config["metadata"]["fly_canary"] = "true"
            body = {
                "config": config,
                "region": self.config.get("primary_region") or template.machine.get("region"),
                "lease_ttl": max(1, math.ceil(self.ops.waits.wait_timeout)),
            }
            canary = self.ops.client.call(
                "POST", f"/v1/apps/{self.ops.app}/machines", self.ops.app, json_body=body
            )
            self.ops.say(f"  Machine {canary['id']} was created (canary for group {group})")
            self.ops.settle(canary)
            self.ops.destroy(canary["id"], nonce=canary.get("nonce"))
        self._rolling()

    def _bluegreen(self) -> None:
        if any(e.machine.get("config", {}).get("mounts") for e in self.entries):
            raise CLIError("bluegreen deployment strategy is not supported when using mounted "
                           "volumes")  # fmt: skip
        if self.entries and all(check_count(e.config) == 0 for e in self.entries):
            raise CLIError(
                "You need to define at least 1 check in order to use blue-green deployments. "
                "Refer to https://fly.io/docs/reference/configuration/#services-tcp_checks"
            )
        greens: list[dict[str, Any]] = []
        forced: set[str] = set()
        for entry in self.entries:
            skip = entry.skip_launch and entry.group in forced
            forced.add(entry.group)  # one started machine per group to poll
            body = {
                "config": entry.config,
                "region": entry.machine.get("region"),
                "skip_launch": skip,
                "skip_service_registration": True,
            }
            green = self.ops.client.call(
                "POST", f"/v1/apps/{self.ops.app}/machines", self.ops.app, json_body=body
            )
            self.ops.say(f"  Created machine {green['id']}")
            greens.append(green)
        started = [g for g in greens if g.get("state") != "created"]
        for green in started:
            self.ops.wait_state(green["id"], "started", green.get("instance_id"))
        for green in started:
            self.ops.wait_checks(green["id"])
        for green in greens:
            self.ops.action(green["id"], "uncordon", nonce="")
            self.ops.say(f"  Machine {green['id']} now ready")
        for entry in self.entries:
            self.ops.action(entry.id, "cordon")
            if entry.machine.get("state") == "started":
                self.ops.action(entry.id, "stop")
                self.ops.wait_state(entry.id, "stopped")
        for entry in self.entries:
            self.ops.destroy(entry.id)
            self._report(entry, "update succeeded")
