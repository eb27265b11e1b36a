"""``flysim-fly``: the flyctl subset hotdash-ops calls, talking to a flysim server.

Same flags, ``--json`` shapes, exit codes and signal handling as flyctl (superfly/flyctl at
ad0172fa; flysim/README.md lists each behaviour and its source):

* each command takes exactly the flags flyctl defines for it (the commands' ``flag.Add`` in
  internal/command/...), plus flyctl's global ``-t/--access-token``, ``--verbose``,
  ``--debug``; any other flag is refused as cobra refuses it: ``Error: unknown flag: --yes``
  or ``Error: unknown shorthand flag: 'a' in -a``, exit 1 (internal/cli/cli.go ``Run``);
* errors print ``Error: <message>`` and exit 1; SIGINT/SIGTERM exit 127 (cli.go: a canceled
  context), a deploy they interrupt is marked ``interrupted`` first;
* the token is ``--access-token``, else ``FLY_ACCESS_TOKEN``, else ``FLY_API_TOKEN``
  (internal/config/config.go), sent as ``FlyV1`` for macaroons, ``Bearer`` otherwise;
* ``deploy``, ``scale vm`` and ``apps restart`` orchestrate the Machines API themselves, with
  leases and waits (flysim/orchestration.py), as flyctl does.

Server: ``FLY_API_HOSTNAME`` (default ``http://127.0.0.1:4280``). Commands::

    status -a APP [--json]
    releases -a APP [--json] [--image]
    deploy [PATH] -a APP [-c CONFIG] [--image REF | --remote-only] [--strategy S] [--yes] ...
           [--image-label L] [--label K=V ...]
           # without --image, "builds" registry.fly.io/APP:<L, default deployment-<ULID>>
    config show -a APP
    scale count N -a APP [--max-per-region N] [--region R] [--process-group G] [--yes]
    scale vm SIZE -a APP [--vm-memory MB] [--process-group G]
    scale show -a APP [--json]
    apps list [--json]  |  apps restart APP [--force-stop] [--skip-health-checks]
    machines list -a APP [--json]
    volumes list -a APP [--json] [--all]
    volumes extend VOL -s N -a APP [--yes] [--json]
    volumes destroy VOL -a APP [--yes]       (aliases: delete, rm)
    volumes snapshots create VOL -a APP [--json]   # prints "Scheduled to snapshot volume VOL"
    volumes snapshots list VOL -a APP [--json]
    secrets list -a APP [--json]
    logs -a APP [--no-tail] [--json] [-r REGION] [-m MACHINE]
    platform vm-sizes [--json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from flysim import appconfig, ids
from flysim.flyctl_http import Client, CLIError, auth_header
from flysim.orchestration import AppMachines, Deploy, Entry, Interrupted, Waits
from flysim.vmsizes import guest_for, vm_sizes_json

__all__ = ["CLIError", "auth_header", "build_parser", "main"]

STRATEGIES = ("rolling", "immediate", "canary", "bluegreen")
INTERRUPTED_EXIT = 127  # internal/cli/cli.go: errors.Is(err, context.Canceled) -> 127
# fly-go flaps/flaps_volumes.go destroyedVolumeStates
DESTROYED_VOLUME_STATES = frozenset(
    {"scheduling_destroy", "fork_cleanup", "waiting_for_detach", "pending_destroy", "destroying"}
)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=4))


def _table(rows: list[list[Any]], headers: list[str]) -> None:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _show(
    args: argparse.Namespace,
    data: Any,
    headers: list[str],
    row: Callable[[Any], list[Any]],
    *,
    items: Callable[[Any], Iterable[Any]] = iter,
    title: Callable[[Any], str] | None = None,
) -> None:
    """flyctl's read output: *data* as JSON with ``--json``; otherwise *title*, then a table
    with a ``row(item)`` per item of ``items(data)``."""
    if args.json:
        _print_json(data)
        return
    if title is not None:
        print(title(data))
    _table([row(item) for item in items(data)], headers)


def _need_app(args: argparse.Namespace) -> str:
    app = getattr(args, "app", None) or os.environ.get("FLY_APP")
    if not app:
        raise CLIError("the config for your app is missing an app name, did you forget to set "
                       "app in fly.toml or pass --app?")  # fmt: skip
    return str(app)


def _confirm(args: argparse.Namespace, question: str) -> None:
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise CLIError("--yes flag must be specified when not running interactively")
    answer = input(f"? {question} (y/N) ").strip().lower()
    if answer not in ("y", "yes"):
        raise CLIError("aborted")


# -- commands -------------------------------------------------------------------------------


def _status_title(data: dict[str, Any]) -> str:
    machines = data["Machines"]
    return (
        f"App\n  Name     = {data['Name']}\n  Owner    = {data['Organization']['Slug']}\n"
        f"  Hostname = {data['Hostname']}\n"
        f"  Image    = {machines[0]['config']['image'] if machines else '-'}\n\nMachines"
    )


def cmd_status(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    _show(
        args,
        client.call("GET", f"/_flyctl/apps/{app}/status", app),
        ["PROCESS", "ID", "VERSION", "REGION", "STATE", "CHECKS", "LAST UPDATED"],
        lambda m: [
            m["config"]["metadata"].get("fly_process_group", ""),
            m["id"],
            m["config"]["metadata"].get("fly_release_version", ""),
            m["region"],
            m["state"],
            ",".join(c["status"] for c in m["checks"]) or "-",
            m["updated_at"],
        ],
        items=lambda d: d["Machines"],
        title=_status_title,
    )


def cmd_releases(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    image = ["DOCKER IMAGE"] if args.image else []
    _show(
        args,
        client.call("GET", f"/_flyctl/apps/{app}/releases", app),
        ["VERSION", "STATUS", "DESCRIPTION", "USER", "DATE", *image],
        lambda r: [f"v{r['Version']}", r["Status"], r["Description"], r["User"]["Email"],
                   r["CreatedAt"], *([r["ImageRef"]] if image else [])],
    )  # fmt: skip


def _labels(given: list[str]) -> dict[str, str]:
    """`--label NAME=VALUE`, repeated (flyctl internal/cmdutil/flags.go ParseKVStringsToMap)."""
    labels = {}
    for arg in given:
        name, sep, value = arg.partition("=")
        if not sep:
            raise CLIError(f"'{arg}': must be in the format NAME=VALUE")
        labels[name] = value
    return labels


def cmd_scale_count(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    try:
        count = int(args.count)
    except ValueError:
        raise CLIError(f"invalid count {args.count!r}: expected a number") from None
    _confirm(args, f"Scale app {app}?")
    body = {
        "count": count,
        "region": args.region,
        "max_per_region": args.max_per_region,
        "process_group": args.process_group,
    }
    result = client.call("POST", f"/_flyctl/apps/{app}/scale/count", app, json_body=body)
    print(f"App '{app}' is going to be scaled according to this plan:")
    delta = result["after"] - result["before"]
    action = f"+{delta}" if delta >= 0 else str(delta)
    print(f"{action:>4} machines for group '{result['group']}' "
          f"(total {result['after']})")  # fmt: skip
    for mid in result["added"]:
        print(f"  Created {mid}")
    for mid in result["removed"]:
        print(f"  Destroyed {mid}")


def cmd_scale_show(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    _show(
        args,
        client.call("GET", f"/_flyctl/apps/{app}/scale", app),
        ["NAME", "COUNT", "KIND", "CPUS", "MEMORY", "REGIONS"],
        lambda g: [g["Process"], g["Count"], g["CPUKind"], g["CPUs"], f"{g['Memory']} MB",
                   ",".join(f"{r}({n})" for r, n in g["Regions"].items())],
        title=lambda _: f"VM Resources for app: {app}\n\nGroups",
    )  # fmt: skip


def cmd_apps_list(args: argparse.Namespace, client: Client) -> None:
    _show(
        args,
        client.call("GET", "/_flyctl/apps"),
        ["NAME", "OWNER", "STATUS", "LATEST DEPLOY"],
        lambda a: [a["Name"], a["Organization"]["Slug"], a["Status"],
                   (a["CurrentRelease"] or {}).get("CreatedAt", "")],
    )  # fmt: skip


def cmd_machines_list(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    _show(
        args,
        client.call("GET", f"/v1/apps/{app}/machines", app),
        ["ID", "NAME", "STATE", "REGION", "IMAGE", "CPU KIND", "VCPUS", "MEMORY"],
        lambda m: [m["id"], m["name"], m["state"], m["region"], m["config"]["image"],
                   m["config"]["guest"]["cpu_kind"], m["config"]["guest"]["cpus"],
                   m["config"]["guest"]["memory_mb"]],
    )  # fmt: skip


def _flyctl_volume(volume: dict[str, Any]) -> dict[str, Any]:
    volume.setdefault("attached_machine_id", None)
    volume.setdefault("attached_alloc_id", None)
    return volume


def cmd_volumes_list(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    volumes = client.call("GET", f"/v1/apps/{app}/volumes", app)
    if not args.all:  # fly-go flaps_volumes.go GetVolumes drops destroyedVolumeStates
        volumes = [v for v in volumes if v.get("state") not in DESTROYED_VOLUME_STATES]
    _show(
        args,
        [_flyctl_volume(v) for v in volumes],
        ["ID", "STATE", "NAME", "SIZE", "REGION", "ZONE", "ENCRYPTED", "ATTACHED VM",
         "CREATED AT"],
        lambda v: [v["id"], v["state"], v["name"], f"{v['size_gb']}GB", v["region"], v["zone"],
                   v["encrypted"], v["attached_machine_id"] or "", v["created_at"]],
    )  # fmt: skip


def cmd_volumes_extend(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    size_text = str(args.size)
    path = f"/v1/apps/{app}/volumes/{args.volume}"
    try:
        if size_text.startswith("+"):
            current = client.call("GET", path, app)["size_gb"]
            size = current + int(size_text[1:])
        else:
            size = int(size_text)
    except ValueError:
        raise CLIError(f"invalid size {size_text!r}: expected GB like 20 or +5") from None
    result = client.call("PUT", f"{path}/extend", app, json_body={"size_gb": size})
    volume = _flyctl_volume(result["volume"])
    if args.json:
        _print_json(volume)
        return
    print(f"Volume {volume['id']} extended to {volume['size_gb']}GB")
    if result["needs_restart"]:
        print("You will need to stop and start your machine to increase the size of the FS")


def cmd_volumes_delete(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    _confirm(args, f"Deleting a volume is not reversible. Delete {args.volume}?")
    volume = client.call("DELETE", f"/v1/apps/{app}/volumes/{args.volume}", app)
    print(f"Destroyed volume ID: {volume['id']} name: {volume['name']}")


def cmd_volumes_snapshots_create(args: argparse.Namespace, client: Client) -> None:
    # flyctl prints this line whether or not --json is given (flyctl
    # internal/command/volumes/snapshots/create.go).
    app = _need_app(args)
    client.call("POST", f"/v1/apps/{app}/volumes/{args.volume}/snapshots", app)
    print(f"Scheduled to snapshot volume {args.volume}")


def cmd_volumes_snapshots_list(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    snapshots = client.call("GET", f"/v1/apps/{app}/volumes/{args.volume}/snapshots", app)
    _show(
        args,
        sorted(snapshots, key=lambda s: s["created_at"]),
        ["ID", "STATUS", "SIZE", "VOL SIZE", "CREATED AT", "RETENTION DAYS"],
        lambda s: [s["id"], s["status"], s["size"], s["volume_size"], s["created_at"],
                   s["retention_days"]],
    )  # fmt: skip


def cmd_secrets_list(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    data = client.call("GET", f"/v1/apps/{app}/secrets", app)["secrets"]
    rows = [{"name": s["name"], "digest": s["digest"], "status": "Deployed"} for s in data]
    _show(args, rows, ["NAME", "DIGEST", "STATUS"], lambda r: [r["name"], r["digest"], r["status"]])


def _log_entry(item: dict[str, Any]) -> dict[str, Any]:
    a = item["attributes"]
    return {
        "level": a["level"],
        "instance": a["instance"],
        "message": a["message"],
        "region": a["region"],
        "timestamp": a["timestamp"],
        "meta": {
            "Instance": a["instance"],
            "Region": a["region"],
            "Event": {"Provider": "app"},
            "HTTP": {"Request": {"ID": "", "Method": "", "Version": ""},
                     "Response": {"status_code": 0}},
            "Error": {"Code": 0, "Message": ""},
            "URL": {"Full": ""},
        },
    }  # fmt: skip


def cmd_logs(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    params: dict[str, str] = {}
    if args.region:
        params["region"] = args.region
    if args.machine:
        params["instance"] = args.machine
    while True:
        data = client.call("GET", f"/api/v1/apps/{app}/logs", app, params=params)
        for item in data["data"]:
            entry = _log_entry(item)
            if args.json:
                _print_json(entry)
            else:
                print(f"{entry['timestamp']} app[{entry['instance']}] {entry['region']} "
                      f"[{entry['level']}] {entry['message']}")  # fmt: skip
        sys.stdout.flush()
        if args.no_tail:
            return
        params["next_token"] = data["meta"]["next_token"]
        time.sleep(1)


def cmd_vm_sizes(args: argparse.Namespace, client: Client | None) -> None:
    sizes = vm_sizes_json()
    _show(
        args,
        sizes,
        ["NAME", "CPU CORES", "CPU KIND", "MEMORY"],
        lambda n: [n, sizes[n]["cpus"], sizes[n]["cpu_kind"], f"{sizes[n]['memory_mb']} MB"],
    )


# -- commands that change machines (flysim/orchestration.py) ----------------------------------


def _duration(text: str | None, flag: str) -> float | None:
    if not text:
        return None
    try:
        return appconfig.parse_duration(text)
    except ValueError:
        raise CLIError(f'invalid argument "{text}" for "--{flag}" flag: time: invalid duration '
                       f'"{text}"') from None  # fmt: skip


def _waits(args: argparse.Namespace, client: Client) -> Waits:
    """flyctl's waits; the defaults (5 min, 10 s in flyctl) come from the scenario's timing."""
    defaults = client.call("GET", "/_flyctl/settings")
    waits = Waits(
        wait_timeout=_duration(getattr(args, "wait_timeout", None), "wait-timeout")
        or float(defaults["wait_timeout_seconds"]),
        smoke_seconds=float(defaults["smoke_check_seconds"]),
    )
    lease = _duration(getattr(args, "lease_timeout", None), "lease-timeout")
    if lease:
        waits.lease_ttl = lease
    if getattr(args, "smoke_checks", "true") == "false":
        waits.smoke_checks = False
    if getattr(args, "skip_health_checks", False) or getattr(args, "detach", False):
        waits.health_checks = waits.smoke_checks = False
    return waits


def _load_config(path: Path) -> dict[str, Any]:
    """A fly.toml (or .json / .yaml, as flyctl's appconfig.LoadConfig reads them)."""
    # Imported here, as in cmd_config_show: every flyctl call is a process of its own, and
    # these two (30 ms of each start) serve only deploys from a file and `config show --yaml`.
    import tomllib

    import yaml

    try:
        text = path.read_text()
        if path.suffix == ".json":
            data = json.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise CLIError(f"failed loading app config from {path}: {exc}") from None
    if not isinstance(data, dict):
        raise CLIError(f"failed loading app config from {path}: not a table")
    return data


def _app_config(args: argparse.Namespace, client: Client, app: str) -> dict[str, Any]:
    """``-c FILE``, else ``fly.toml`` in the working directory, else the current release's
    config (flyctl: LoadAppConfigIfPresent, then appconfig.FromRemoteApp)."""
    local = Path(args.config) if args.config else Path(args.path or ".") / "fly.toml"
    if args.config or local.is_file():
        config = _load_config(local)
    else:
        config = client.call("GET", f"/_flyctl/apps/{app}/config", app)
    config["app"] = app  # "Always prefer the app name passed via --app"
    return dict(config)


def cmd_deploy(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    waits = _waits(args, client)
    config = _app_config(args, client, app)
    deploy_section = config.get("deploy") or {}
    strategy = args.strategy or deploy_section.get("strategy") or "rolling"
    if strategy not in STRATEGIES:
        raise CLIError(f"unsupported deployment strategy '{strategy}'; options are "
                       f"{', '.join(STRATEGIES)}")  # fmt: skip
    if strategy == "canary" and config.get("mounts"):
        # internal/appconfig/validation.go
        raise CLIError("error canary deployment strategy is not supported when using mounted "
                       "volumes")  # fmt: skip
    try:
        max_unavailable = float(args.max_unavailable or deploy_section.get("max_unavailable")
                                or 0.33)  # fmt: skip
    except ValueError:
        raise CLIError(f'invalid argument "{args.max_unavailable}" for "--max-unavailable" '
                       "flag") from None  # fmt: skip
    if max_unavailable <= 0:
        raise CLIError("the value of --max-unavailable must be > 0")
    image = args.image
    labels: dict[str, str] | None = None
    if not image:
        source = Path(args.path or ".")
        if not source.is_dir():
            raise CLIError(f"the path {str(source)!r} is not a directory")
        labels = _labels(args.label or [])
        print("==> Building image")
        print(f"--> Building with the remote builder from {source.resolve()}")
        # flyctl internal/build/imgsrc/docker.go NewDeploymentTag: the label or deployment-<ULID>
        image = f"registry.fly.io/{app}:{args.image_label or f'deployment-{ids.ulid()}'}"
        print(f"--> Build complete: {image}")
    print("==> Verifying app config")
    print(f"--> Verified app config\n==> Deploying {app} with image {image}")
    print(f"Watch your deployment at https://fly.io/apps/{app}/monitoring\n", flush=True)
    body = {"image": image, "config": config, "strategy": strategy,
            "user": os.environ.get("FLYSIM_USER"), "labels": labels}  # fmt: skip
    result = client.call("POST", f"/_flyctl/apps/{app}/releases", app, json_body=body)
    release = result["release"]
    if result["error"]:
        raise CLIError(f"release v{release['Version']} failed: {result['error']}")
    ops = AppMachines(client, app, waits, sys.stdout)
    deploy = Deploy(ops, image, config, release, strategy, max_unavailable)
    deploy.plan(ops.list_active())
    status = "failed"
    try:
        ops.acquire_leases(e.id for e in deploy.entries)
        deploy.run()
        status = "complete"
    except Interrupted:
        status = "interrupted"
        raise
    finally:
        ops.cancel.set()
        # An interrupted flyctl gets one more second to record the release's status.
        path = f"/_flyctl/apps/{app}/releases/{release['Version']}"
        try:
            client.call("PATCH", path, app, json_body={"status": status},
                        timeout=1 if status == "interrupted" else None)  # fmt: skip
        except CLIError as exc:
            print(f"WARN failed to set final release status: {exc}", file=sys.stderr)
        ops.release_leases(timeout=0.5 if status == "interrupted" else 5)
    if not args.detach:
        print(f"Checking DNS configuration for {app}.fly.dev")
    print(f"\nVisit your newly deployed app at https://{app}.fly.dev/")


def cmd_config_show(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    config = client.call("GET", f"/_flyctl/apps/{app}/config", app)
    if args.yaml:
        import yaml

        print(yaml.safe_dump(config, sort_keys=False), end="")
    else:  # JSON is flyctl's default (internal/command/config/show.go)
        print(json.dumps(config, indent=2))


def _group_machines(ops: AppMachines, group: str | None) -> list[dict[str, Any]]:
    name = group or appconfig.DEFAULT_GROUP
    machines = [m for m in ops.list_active()
                if m["config"].get("metadata", {}).get("fly_process_group") == name]  # fmt: skip
    if not machines:
        raise CLIError(f"No active machines in process group '{name}', check `fly status` output")
    return machines


def cmd_scale_vm(args: argparse.Namespace, client: Client) -> None:
    """internal/command/scale/machines.go ``v2ScaleVM``: leases, then each machine updated and
    waited for (internal/machine/update.go ``Update``: no skip_launch, so stopped machines
    start)."""
    app = _need_app(args)
    try:
        guest = guest_for(args.size, args.vm_memory)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    ops = AppMachines(client, app, _waits(args, client), sys.stdout)
    machines = _group_machines(ops, args.process_group)
    try:
        ops.acquire_leases(m["id"] for m in machines)
        for machine in machines:
            config = copy.deepcopy(machine["config"])
            config["guest"] = {**config.get("guest", {}), **guest}
            print(f"Updating machine {machine['id']}", flush=True)
            updated = ops.update(Entry(machine, config, skip_launch=False))
            ops.wait_state(machine["id"], "started", updated.get("instance_id"))
            ops.wait_checks(machine["id"])
            print(f"Machine {machine['id']} updated successfully!", flush=True)
    finally:
        ops.release_leases()
    print(f"Scaled VM Type to '{args.size}'")
    print(f"      CPU Cores: {guest['cpus']}\n         Memory: {guest['memory_mb']} MB")


def cmd_apps_restart(args: argparse.Namespace, client: Client) -> None:
    """internal/command/apps/restart.go: a rolling restart of the started machines, leased,
    each waited for (started, then its checks unless --skip-health-checks)."""
    app = args.app_name or os.environ.get("FLY_APP")
    if not app:
        raise CLIError("no app name was provided, and none is available from the environment "
                       "or fly.toml")  # fmt: skip
    ops = AppMachines(client, app, _waits(args, client), sys.stdout)
    machines = ops.list_active()
    print(f"Restarting machines for app {app}", flush=True)
    try:
        ops.acquire_leases(m["id"] for m in machines)
        for machine in machines:
            if machine["state"] != "started":
                continue
            print(f"Restarting machine {machine['id']}", flush=True)
            ops.action(machine["id"], "restart")
            ops.wait_state(machine["id"], "started")
            ops.wait_checks(machine["id"])
            print(f"Machine {machine['id']} restarted successfully!", flush=True)
    finally:
        ops.release_leases()


# -- parser ---------------------------------------------------------------------------------

_UNRECOGNIZED = re.compile(r"unrecognized arguments: (\S+)")
_NEEDS_VALUE = re.compile(r"argument (?:(-\w)/)?(--[\w-]+)(?:/\S+)*: expected one argument")


def cobra_message(message: str, prog: str) -> str:
    """argparse's complaint in cobra's words (internal/cli/cli.go prints ``Error: ...``)."""
    unknown = _UNRECOGNIZED.search(message)
    if unknown:
        word = unknown.group(1)
        if word.startswith("--"):
            return f"unknown flag: {word.split('=', 1)[0]}"
        if word.startswith("-") and len(word) > 1:
            return f"unknown shorthand flag: '{word[1]}' in {word}"
        return f'unknown command "{word}" for "{prog}"'
    needs = _NEEDS_VALUE.search(message)
    if needs:
        return f"flag needs an argument: {needs.group(2)}"
    if "the following arguments are required" in message:
        return "accepts 1 arg(s), received 0"
    return message


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # cobra takes no abbreviated flags
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        prog = self.prog.replace("flysim-fly", "flyctl")
        self.exit(1, f"Error: {cobra_message(message, prog)}\n")


def _flag(p: argparse.ArgumentParser, *names: str, **kwargs: Any) -> None:
    p.add_argument(*names, **kwargs)


def _app(p: argparse.ArgumentParser) -> None:
    """flag.App() and flag.AppConfig()."""
    _flag(p, "-a", "--app", help="Application name")
    _flag(p, "-c", "--config", help="Path to application configuration file")


def _json(p: argparse.ArgumentParser) -> None:
    _flag(p, "-j", "--json", action="store_true", help="JSON output")


def _yes(p: argparse.ArgumentParser) -> None:
    _flag(p, "-y", "--yes", "--auto-confirm", action="store_true", dest="yes",
          help="Accept all confirmations")  # fmt: skip


def _globals(p: argparse.ArgumentParser) -> None:
    """flyctl's persistent root flags (internal/command/root/root.go)."""
    _flag(p, "-t", "--access-token", dest="access_token", help="Fly API Access Token")
    _flag(p, "--verbose", action="store_true")
    _flag(p, "--debug", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flysim-fly", description="flyctl subset backed by flysim")
    _globals(parser)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(
        subparsers: Any, name: str, func: Callable[..., None] | None, aliases: Sequence[str] = ()
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = subparsers.add_parser(name, aliases=list(aliases))
        p.set_defaults(func=func)
        _globals(p)
        return p

    # internal/command/status/status.go
    p = add(sub, "status", cmd_status)
    _app(p)
    _json(p)
    for name in ("--all", "--deployment", "--watch"):
        _flag(p, name, action="store_true")
    _flag(p, "--rate", type=int, default=5)

    # internal/command/apps/releases.go
    p = add(sub, "releases", cmd_releases)
    _app(p)
    _json(p)
    _flag(p, "--image", action="store_true", help="Display the Docker image reference")

    # internal/command/deploy/deploy.go (the flags hotdash-ops and the runbook use)
    p = add(sub, "deploy", cmd_deploy)
    _app(p)
    _yes(p)
    _flag(p, "path", nargs="?")
    _flag(p, "-i", "--image")
    _flag(p, "--strategy")
    _flag(p, "--detach", action="store_true")
    _flag(p, "--remote-only", action="store_true")
    _flag(p, "--local-only", action="store_true")
    _flag(p, "--build-only", action="store_true")
    _flag(p, "--wait-timeout")
    _flag(p, "--release-command-timeout")
    _flag(p, "--lease-timeout")
    _flag(p, "--max-unavailable")
    _flag(p, "--image-label")
    _flag(p, "--label", action="append")
    _flag(p, "--ha")
    _flag(p, "--smoke-checks", default="true")
    _flag(p, "--dns-checks")
    _flag(p, "-e", "--env", action="append")
    _flag(p, "--regions", "--only-regions")
    _flag(p, "--only-machines")
    _flag(p, "--process-groups")

    # internal/command/config/show.go
    config = add(sub, "config", None).add_subparsers(
        dest="config_command", required=True, parser_class=_Parser
    )
    p = add(config, "show", cmd_config_show, aliases=["display"])
    _app(p)
    _flag(p, "--local", action="store_true")
    _flag(p, "--yaml", action="store_true")
    _flag(p, "--toml", action="store_true")

    scale = add(sub, "scale", None).add_subparsers(
        dest="scale_command", required=True, parser_class=_Parser
    )
    p = add(scale, "count", cmd_scale_count)  # internal/command/scale/count.go
    _app(p)
    _yes(p)
    _flag(p, "count")
    _flag(p, "--process-group")
    _flag(p, "--max-per-region", type=int)
    _flag(p, "-r", "--region")
    _flag(p, "--with-new-volumes", action="store_true")
    _flag(p, "--from-snapshot")
    _flag(p, "-e", "--env", action="append")
    p = add(scale, "vm", cmd_scale_vm)  # internal/command/scale/vm.go: no --yes
    _app(p)
    _flag(p, "size")
    _flag(p, "--vm-memory", "--memory", type=int, dest="vm_memory")
    _flag(p, "--process-group")
    p = add(scale, "show", cmd_scale_show)  # internal/command/scale/show.go
    _app(p)
    _json(p)

    apps = add(sub, "apps", None, aliases=["app"]).add_subparsers(
        dest="apps_command", required=True, parser_class=_Parser
    )
    p = add(apps, "list", cmd_apps_list, aliases=["ls"])  # internal/command/apps/list.go
    _json(p)
    _flag(p, "-o", "--org")
    _flag(p, "-q", "--quiet", action="store_true")
    # internal/command/apps/restart.go: the app is an argument; no -a, no --yes
    p = add(apps, "restart", cmd_apps_restart)
    _flag(p, "app_name", nargs="?")
    _flag(p, "--force-stop", action="store_true")
    _flag(p, "--skip-health-checks", action="store_true")

    machines = add(sub, "machines", None, aliases=["machine", "m"]).add_subparsers(
        dest="machines_command", required=True, parser_class=_Parser
    )
    p = add(machines, "list", cmd_machines_list, aliases=["ls"])  # machine/list.go
    _app(p)
    _json(p)
    _flag(p, "-q", "--quiet", action="store_true")

    volumes = add(sub, "volumes", None, aliases=["volume", "vol"]).add_subparsers(
        dest="volumes_command", required=True, parser_class=_Parser
    )
    p = add(volumes, "list", cmd_volumes_list, aliases=["ls"])  # volumes/list.go
    _app(p)
    _json(p)
    _flag(p, "--all", action="store_true", help="Show all volumes, including destroyed ones")
    p = add(volumes, "extend", cmd_volumes_extend)  # volumes/extend.go
    _app(p)
    _yes(p)
    _json(p)
    _flag(p, "volume")
    _flag(p, "-s", "--size", required=True)
    p = add(volumes, "destroy", cmd_volumes_delete, aliases=["delete", "rm"])  # destroy.go
    _app(p)
    _yes(p)
    _flag(p, "volume")
    # volumes/snapshots: create and list take only --app and --json (no --yes)
    snapshots = add(volumes, "snapshots", None, aliases=["snapshot", "snaps"]).add_subparsers(
        dest="snapshots_command", required=True, parser_class=_Parser
    )
    for name, func, aliases in (
        ("create", cmd_volumes_snapshots_create, []),  # snapshots/create.go
        ("list", cmd_volumes_snapshots_list, ["ls"]),  # snapshots/list.go
    ):
        p = add(snapshots, name, func, aliases=aliases)
        _flag(p, "volume")
        _flag(p, "-a", "--app", help="Application name")
        _json(p)

    secrets = add(sub, "secrets", None).add_subparsers(
        dest="secrets_command", required=True, parser_class=_Parser
    )
    p = add(secrets, "list", cmd_secrets_list, aliases=["ls"])  # secrets/list.go
    _app(p)
    _json(p)

    p = add(sub, "logs", cmd_logs)  # internal/command/logs/logs.go
    _app(p)
    _json(p)
    _flag(p, "-r", "--region")
    _flag(p, "-m", "--machine", "-i", "--instance", dest="machine")
    _flag(p, "-s", "--select", action="store_true")
    _flag(p, "-n", "--no-tail", action="store_true")

    platform = add(sub, "platform", None).add_subparsers(
        dest="platform_command", required=True, parser_class=_Parser
    )
    _json(add(platform, "vm-sizes", cmd_vm_sizes))  # platform/vmsizes.go
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flysim-fly`` console script."""
    args = build_parser().parse_args(argv)
    # flyctl's context is canceled by SIGINT and SIGTERM (main.go newContext); SIGKILL, of
    # course, leaves no chance to record anything.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        client = None if args.func is cmd_vm_sizes else Client(args.access_token)
        args.func(args, client)
    except CLIError as exc:
        sys.stdout.flush()
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except Interrupted:
        sys.stdout.flush()
        return INTERRUPTED_EXIT
    except BrokenPipeError:  # e.g. `flysim-fly logs ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
