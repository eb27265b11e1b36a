"""The same reads, against a real Fly.io organisation (like moto's `aws_verified`): apps,
machines, volumes and secrets through the Machines API, releases, status and volumes through
flyctl, each Prometheus query the monitor sends, one page of the logs API. Each answer must
parse into our models and validate against Fly's Machines API spec (and the logs API's shape).

Read-only: nothing here changes anything. Run them with a read-only token
(`fly tokens create readonly <org>`) and flyctl installed:

    FLY_VERIFY_ORG=<org slug> FLY_VERIFY_TOKEN=<read-only token> \\
        .venv/bin/pytest -m fly_verified tests/contract/test_fly_verified.py

`FLY_VERIFY_APPS` (comma-separated) picks the apps (default: the organisation's first three);
`FLYCTL`, `FLY_API_HOSTNAME`, `FLY_PROMETHEUS_URL` and `FLY_API_BASE_URL` are read as usual.
Without `FLY_VERIFY_ORG` and `FLY_VERIFY_TOKEN` every test here is skipped, saying so.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from hotdash_ops.fly.flyctl import Flyctl
from hotdash_ops.fly.logs import LogsClient
from hotdash_ops.fly.machines import MachinesClient
from hotdash_ops.fly.prometheus import PrometheusClient
from hotdash_ops.models import PromResult
from hotdash_ops.monitor.metrics import QUERIES, build_query
from hotdash_ops.settings import Settings
from tests.contract.test_machines_openapi import RecordingTransport
from tests.openapi_contract import (
    assert_valid_logs_answer,
    assert_valid_request,
    assert_valid_response,
    load_spec,
)

ORG = os.environ.get("FLY_VERIFY_ORG", "")
TOKEN = os.environ.get("FLY_VERIFY_TOKEN", "")

pytestmark = [
    pytest.mark.fly_verified,
    pytest.mark.skipif(
        not (ORG and TOKEN),
        reason="fly_verified: set FLY_VERIFY_ORG and FLY_VERIFY_TOKEN (a read-only token) to "
        "run these reads against a real Fly.io organisation",
    ),
]


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings()


@pytest.fixture
async def recorded(settings: Settings) -> AsyncIterator[tuple[MachinesClient, RecordingTransport]]:
    transport = RecordingTransport()
    async with MachinesClient(
        base_url=settings.fly_api_hostname, token=TOKEN, transport=transport, timeout=30
    ) as client:
        yield client, transport


async def verify_apps(client: MachinesClient) -> list[str]:
    chosen = [a.strip() for a in os.environ.get("FLY_VERIFY_APPS", "").split(",") if a.strip()]
    if chosen:
        return chosen
    apps = await client.list_apps(ORG)
    assert apps, f"organisation {ORG} has no apps to read"
    return [a.name for a in apps[:3]]


async def test_machines_api_reads_parse_and_follow_the_spec(
    recorded: tuple[MachinesClient, RecordingTransport],
) -> None:
    client, transport = recorded
    spec = load_spec()
    for app in await verify_apps(client):
        await client.get_app(app)
        machines = await client.list_machines(app)
        for machine in machines[:2]:
            got = await client.get_machine(app, machine.id)
            assert got.instance_id, f"{app}/{machine.id}: no instance_id"
        await client.list_volumes(app)
        await client.list_secrets(app)
    assert transport.exchanges
    for response in transport.exchanges:
        assert response.status_code < 400, (response.request.url, response.text[:300])
        assert_valid_request(spec, response.request)
        assert_valid_response(spec, response)


def test_flyctl_reads_parse(settings: Settings) -> None:
    fly = Flyctl(command=settings.flyctl, token=TOKEN, timeout=120)
    apps = [a.strip() for a in os.environ.get("FLY_VERIFY_APPS", "").split(",") if a.strip()]
    if not apps:
        listed = fly.run_json(["apps", "list", "-o", ORG])
        apps = [a["Name"] for a in listed[:3]]
    for app in apps:
        releases = fly.releases(app)
        assert all(r.status for r in releases), app
        status = fly.status(app)
        assert status.name == app
        fly.volumes(app)
        config = fly.config_show(app)
        assert config.get("app") == app


async def test_each_prometheus_query_answers_prometheus_json(settings: Settings) -> None:
    end = datetime.now(UTC)
    async with PrometheusClient(
        base_url=settings.fly_prometheus_url, org=ORG, token=TOKEN, timeout=60
    ) as prom:
        for figure in QUERIES:
            result = await prom.query_range(
                build_query(figure, window_minutes=15), end - timedelta(minutes=15), end, 60
            )
            assert isinstance(result, PromResult) and result.result_type == "matrix", figure
            assert all("app" in s.metric for s in result.series), figure


async def test_one_page_of_logs_has_the_logs_apis_shape(settings: Settings) -> None:
    async with MachinesClient(base_url=settings.fly_api_hostname, token=TOKEN) as client:
        app = (await verify_apps(client))[0]
    transport = RecordingTransport()
    async with LogsClient(
        base_url=settings.fly_api_base_url, token=TOKEN, transport=transport, timeout=60
    ) as logs:
        await logs.recent(app)
    [response] = transport.exchanges
    assert response.status_code == 200, response.text[:300]
    assert_valid_logs_answer(response.json())
