"""``python -m flysim --scenario FILE --port N [--host H]``: serve a scenario.

``--generate-apps N [--endpoint-latency-ms MS]`` adds N synthetic apps (for benchmarks); with
no ``--scenario`` they are the whole organisation. ``--timing boot_seconds=0.05,...``
overrides the scenario's ``timing:`` (how long boots, checks and flyctl's waits take).
``--port 0`` picks a free port. Once the socket listens, one line is printed:
``flysim listening on http://HOST:PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import uvicorn

from flysim.scenario import GenerateSpec, Scenario, ScenarioError, TimingSpec, load_scenario
from flysim.server import create_app
from flysim.state import Backend


def build_backend(args: argparse.Namespace) -> Backend:
    scenario = load_scenario(args.scenario) if args.scenario else Scenario()
    if args.generate_apps:
        gen = GenerateSpec(apps=args.generate_apps, endpoint_latency_ms=args.endpoint_latency_ms)
        scenario = scenario.model_copy(update={"generate": gen})
    timing = TimingSpec.parse_overrides(args.timing) if args.timing else None
    return Backend(scenario, token=os.environ.get("FLY_API_TOKEN") or None, timing=timing)


async def serve(backend: Backend, host: str, port: int) -> None:
    config = uvicorn.Config(
        create_app(backend),
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
        backlog=4096,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise SystemExit(1)
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    print(f"flysim listening on http://{host}:{bound}", flush=True)
    await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flysim", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", help="scenario YAML file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4280)
    parser.add_argument("--generate-apps", type=int, default=0, metavar="N")
    parser.add_argument("--endpoint-latency-ms", type=float, default=0, metavar="MS")
    parser.add_argument(
        "--timing", metavar="KEY=SECONDS,...", help="override the scenario's timing block"
    )
    args = parser.parse_args(argv)
    try:
        backend = build_backend(args)
    except ScenarioError as exc:
        print(f"flysim: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(backend, args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
