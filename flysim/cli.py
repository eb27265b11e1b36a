"""``flysim-fly``: the flyctl subset hotdash-ops calls, talking to a flysim server.

Same flags, ``--json`` shapes and exit codes as flyctl (0 ok; 1 with ``Error: ...`` on stderr).
Server: ``FLY_API_HOSTNAME`` (default ``http://127.0.0.1:4280``); token: ``FLY_API_TOKEN`` or
``FLY_ACCESS_TOKEN``, sent as ``FlyV1`` for macaroon tokens (``fm1r_``, ``fm1a_``, ``fm2_``),
``Bearer`` otherwise (flyctl's rule).

Commands::

    status -a APP [--json]
    releases -a APP [--json] [--image]
    deploy -a APP --image REF [--strategy rolling|immediate|canary|bluegreen] [--yes] [--detach]
    deploy -a APP [--remote-only] [--image-label L] [--label K=V ...] [PATH]
                                  # "builds" registry.fly.io/APP:<L, default deployment-<ULID>>
    scale count N -a APP [--max-per-region N] [--region R] [--process-group G] [--yes]
    scale vm SIZE -a APP [--vm-memory MB]
    scale show -a APP [--json]
    apps list [--json]  |  apps restart APP
    machines list -a APP [--json]
    volumes list -a APP [--json]
    volumes extend VOL -s N -a APP [--yes] [--json]
    volumes delete VOL -a APP --yes
    secrets list -a APP [--json]
    logs -a APP [--no-tail] [--json] [-r REGION] [-i MACHINE]
    platform vm-sizes [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlencode

from flysim import ids
from flysim.vmsizes import vm_sizes_json

DEFAULT_HOST = "http://127.0.0.1:4280"
MACAROON_PREFIXES = ("fm1r_", "fm1a_", "fm2_")


class CLIError(Exception):
    """Printed as ``Error: <message>``; exit status 1."""


def auth_header(token: str) -> str:
    """flyctl's rule: keep an explicit scheme; FlyV1 for macaroons; Bearer otherwise."""
    token = token.strip()
    if token.startswith(("FlyV1 ", "Bearer ")):
        return token
    if token.startswith(MACAROON_PREFIXES):
        return f"FlyV1 {token}"
    return f"Bearer {token}"


class Client:
    """HTTP to the flysim server (urllib: a short-lived process starts faster without httpx),
    mapping errors to flyctl's messages."""

    def __init__(self) -> None:
        token = os.environ.get("FLY_API_TOKEN") or os.environ.get("FLY_ACCESS_TOKEN")
        if not token:
            raise CLIError("No access token available. Please login with 'flyctl auth login'")
        self.base = (os.environ.get("FLY_API_HOSTNAME") or DEFAULT_HOST).rstrip("/")
        self.timeout = float(os.environ.get("FLYSIM_CLI_TIMEOUT", "60"))
        self.headers = {"Authorization": auth_header(token), "User-Agent": "flysim-fly/0.1"}

    def call(
        self,
        method: str,
        path: str,
        app: str | None = None,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        url = self.base + path + (f"?{urlencode(params)}" if params else "")
        headers = dict(self.headers)
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except TimeoutError:
            raise CLIError(f"timed out waiting for {url}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise CLIError(f"timed out waiting for {url}") from None
            raise CLIError(f"failed to reach the Fly API at {self.base}: {exc.reason}") from None
        if status >= 400:
            try:
                message = json.loads(raw).get("error") or raw.decode()
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace") or f"HTTP {status}"
            if status == 404 and app and "Could not find App" in str(message):
                message = f'Could not find App "{app}"'
            raise CLIError(str(message))
        return json.loads(raw) if raw else None


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


def cmd_deploy(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
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
    print(f"Watch your deployment at https://fly.io/apps/{app}/monitoring\n")
    body = {
        "image": image,
        "strategy": args.strategy or "rolling",
        "user": os.environ.get("FLYSIM_USER"),
        "labels": labels,
    }
    result = client.call("POST", f"/_flyctl/apps/{app}/deploy", app, json_body=body)
    release = result["release"]
    print("-------")
    print(f"Updating existing machines in '{app}' with {body['strategy']} strategy")
    print("-------")
    total = len(result["machines"])
    for i, mid in enumerate(result["machines"], start=1):
        verdict = "failed" if result["error"] else "update succeeded"
        print(f" {'✖' if result['error'] else '✔'} [{i}/{total}] Machine {mid} [app] {verdict}")
        if result["error"]:
            break
    print("-------")
    if result["error"]:
        raise CLIError(f"release v{release['Version']} failed: {result['error']}")
    if not args.detach:
        print(f"Checking DNS configuration for {app}.fly.dev")
    print(f"\nVisit your newly deployed app at https://{app}.fly.dev/")


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


def cmd_scale_vm(args: argparse.Namespace, client: Client) -> None:
    app = _need_app(args)
    body = {"size": args.size, "memory_mb": args.vm_memory}
    guest = client.call("POST", f"/_flyctl/apps/{app}/scale/vm", app, json_body=body)
    print(f"Scaled VM Type to '{args.size}'")
    print(f"      CPU Cores: {guest['cpus']}\n         Memory: {guest['memory_mb']} MB")


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


def cmd_apps_restart(args: argparse.Namespace, client: Client) -> None:
    app = args.app_name or _need_app(args)
    result = client.call("POST", f"/_flyctl/apps/{app}/restart", app)
    print(f"Restarting machines for app {app}")
    for mid in result["restarted"]:
        print(f"  Machine {mid} restarted successfully!")


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
    _show(
        args,
        [_flyctl_volume(v) for v in client.call("GET", f"/v1/apps/{app}/volumes", app)],
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


# -- parser ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(1, f"Error: {message}\n")


def _common(p: argparse.ArgumentParser, *, app: bool = True, json_flag: bool = True) -> None:
    if app:
        p.add_argument("-a", "--app", help="application name")
    if json_flag:
        p.add_argument("-j", "--json", action="store_true", help="JSON output")
    p.add_argument("-y", "--yes", action="store_true", help="accept all confirmations")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flysim-fly", description="flyctl subset backed by flysim")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(
        subparsers: Any, name: str, func: Callable[..., None], aliases: Sequence[str] = ()
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = subparsers.add_parser(name, aliases=list(aliases))
        p.set_defaults(func=func)
        return p

    _common(add(sub, "status", cmd_status))
    p = add(sub, "releases", cmd_releases)
    _common(p)
    p.add_argument("--image", action="store_true", help="show the Docker image column")

    p = add(sub, "deploy", cmd_deploy)
    _common(p, json_flag=False)
    p.add_argument("path", nargs="?")
    p.add_argument("-i", "--image")
    p.add_argument("--strategy", choices=["rolling", "immediate", "canary", "bluegreen"])
    p.add_argument("--detach", action="store_true")
    p.add_argument("--remote-only", action="store_true")
    p.add_argument("--local-only", action="store_true")
    p.add_argument("--wait-timeout")
    p.add_argument("--max-unavailable")
    p.add_argument("--image-label")
    p.add_argument("--label", action="append")
    p.add_argument("--ha")
    p.add_argument("--smoke-checks")

    scale = add(sub, "scale", lambda *a: None).add_subparsers(
        dest="scale_command", required=True, parser_class=_Parser
    )
    p = add(scale, "count", cmd_scale_count)
    _common(p, json_flag=False)
    p.add_argument("count")
    p.add_argument("--max-per-region", type=int)
    p.add_argument("-r", "--region")
    p.add_argument("--process-group")
    p = add(scale, "vm", cmd_scale_vm)
    _common(p, json_flag=False)
    p.add_argument("size")
    p.add_argument("--vm-memory", "--memory", type=int, dest="vm_memory")
    p.add_argument("--process-group")
    _common(add(scale, "show", cmd_scale_show))

    apps = add(sub, "apps", lambda *a: None, aliases=["app"]).add_subparsers(
        dest="apps_command", required=True, parser_class=_Parser
    )
    _common(add(apps, "list", cmd_apps_list, aliases=["ls"]), app=False)
    p = add(apps, "restart", cmd_apps_restart)
    _common(p, json_flag=False)
    p.add_argument("app_name", nargs="?")
    p.add_argument("--force-stop", action="store_true")
    p.add_argument("--skip-health-checks", action="store_true")

    machines = add(sub, "machines", lambda *a: None, aliases=["machine", "m"]).add_subparsers(
        dest="machines_command", required=True, parser_class=_Parser
    )
    _common(add(machines, "list", cmd_machines_list, aliases=["ls"]))

    volumes = add(sub, "volumes", lambda *a: None, aliases=["volume", "vol"]).add_subparsers(
        dest="volumes_command", required=True, parser_class=_Parser
    )
    _common(add(volumes, "list", cmd_volumes_list, aliases=["ls"]))
    p = add(volumes, "extend", cmd_volumes_extend)
    _common(p)
    p.add_argument("volume")
    p.add_argument("-s", "--size", required=True)
    p = add(volumes, "delete", cmd_volumes_delete, aliases=["destroy", "rm"])
    _common(p, json_flag=False)
    p.add_argument("volume")

    secrets = add(sub, "secrets", lambda *a: None).add_subparsers(
        dest="secrets_command", required=True, parser_class=_Parser
    )
    _common(add(secrets, "list", cmd_secrets_list, aliases=["ls"]))

    p = add(sub, "logs", cmd_logs)
    _common(p)
    p.add_argument("--no-tail", "-n", action="store_true")
    p.add_argument("-r", "--region")
    p.add_argument("-i", "--machine", "--instance", dest="machine")

    platform = add(sub, "platform", lambda *a: None).add_subparsers(
        dest="platform_command", required=True, parser_class=_Parser
    )
    _common(add(platform, "vm-sizes", cmd_vm_sizes), app=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flysim-fly`` console script."""
    args = build_parser().parse_args(argv)
    try:
        client = None if args.func is cmd_vm_sizes else Client()
        args.func(args, client)
    except CLIError as exc:
        sys.stdout.flush()
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `flysim-fly logs ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
