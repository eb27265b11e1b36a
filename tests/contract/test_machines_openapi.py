"""Contract: every request our Machines client sends, and every response flysim gives it,
validates against Fly's Machines API spec; the update guarded by `current_version` and a lease
nonce; Fly's error body; the logs API's shape."""

from __future__ import annotations

import httpx
import pytest

from hotdash_ops.errors import FlyConflict
from hotdash_ops.fly.logs import LogsClient
from hotdash_ops.fly.machines import MachinesClient
from tests.conftest import Flysim
from tests.openapi_contract import (
    assert_fly_error_body,
    assert_valid_logs_answer,
    assert_valid_request,
    assert_valid_response,
    load_spec,
)

APPS = ["hotdash-staging", "hotdash-production", "hotdash-chatwoot"]


class RecordingTransport(httpx.AsyncHTTPTransport):
    """The real network transport, keeping every exchange for the validator."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[httpx.Response] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        await response.aread()
        self.exchanges.append(response)
        return response


@pytest.fixture(scope="module")
def spec():
    return load_spec()


async def test_client_requests_and_flysim_responses_follow_the_spec(flysim: Flysim, spec) -> None:
    transport = RecordingTransport()
    async with MachinesClient(base_url=flysim.url, token=flysim.token, transport=transport) as c:
        apps = await c.list_apps("personal")
        assert {a.name for a in apps} >= set(APPS)
        for app in APPS:
            await c.get_app(app)
            machines = await c.list_machines(app)
            await c.get_machine(app, machines[0].id)
            await c.list_volumes(app)
            await c.list_secrets(app)
        # The two mutations the project sends: a machine config update and a volume extend.
        machine = (await c.list_machines("hotdash-agent-service"))[0]
        await c.update_machine("hotdash-agent-service", machine.id, machine.config)
        volume = (await c.list_volumes("hotdash-chatwoot"))[0]
        await c.extend_volume("hotdash-chatwoot", volume.id, volume.size_gb + 1)
        # The snapshots a deletion waits for (flyctl creates them: flysim-fly's POST is
        # checked by the snapshot test in tests/flysim/test_cli.py).
        await c.list_volume_snapshots("hotdash-chatwoot", volume.id)

    kinds = {(r.request.method, r.request.url.path.count("/")) for r in transport.exchanges}
    assert len(transport.exchanges) >= 3 + 5 * len(APPS) and ("POST", 5) in kinds
    for response in transport.exchanges:
        assert response.status_code < 400, (response.request.url, response.text)
        assert_valid_request(spec, response.request)
        assert_valid_response(spec, response)


async def test_a_guarded_update_with_a_lease_follows_the_spec_and_errors_are_flys(
    flysim: Flysim, spec
) -> None:
    """update-machine with `current_version` (the instance_id read) and the lease nonce: the
    request, the answers, and the error bodies of a held lease (409) and a stale version
    (412)."""
    app = "hotdash-agent-service"
    transport = RecordingTransport()
    async with MachinesClient(base_url=flysim.url, token=flysim.token, transport=transport) as c:
        machine = (await c.list_machines(app))[0]
        assert machine.config is not None and machine.instance_id
        nonce = await c.acquire_lease(app, machine.id, ttl_seconds=30)
        with pytest.raises(FlyConflict, match="lease currently held by"):
            await c.update_machine(
                app, machine.id, machine.config, current_version=machine.instance_id
            )
        updated = await c.update_machine(
            app, machine.id, machine.config, current_version=machine.instance_id,
            lease_nonce=nonce,
        )  # fmt: skip
        assert updated.instance_id != machine.instance_id
        with pytest.raises(FlyConflict, match="is not its latest instance_id") as stale:
            await c.update_machine(
                app, machine.id, machine.config, current_version=machine.instance_id,
                lease_nonce=nonce,
            )  # fmt: skip
        assert stale.value.status == 412
        await c.release_lease(app, machine.id, nonce)

    by_status = {r.status_code: r for r in transport.exchanges}
    assert sorted(by_status) == [200, 201, 409, 412]
    update = next(r for r in transport.exchanges if r.status_code == 200 and
                  r.request.method == "POST")  # fmt: skip
    assert update.request.headers["fly-machine-lease-nonce"] == nonce
    assert b'"current_version"' in update.request.content
    for response in transport.exchanges:
        assert_valid_request(spec, response.request)
        if response.status_code < 400:
            assert_valid_response(spec, response)
        else:
            assert_fly_error_body(response)


async def test_fly_error_bodies_of_not_found_and_bad_requests(flysim: Flysim, spec) -> None:
    async with httpx.AsyncClient(
        base_url=flysim.url, headers={"Authorization": f"Bearer {flysim.token}"}
    ) as http:
        missing = await http.get("/v1/apps/hotdash-nope/machines")
        refused = await http.post(
            "/v1/apps/hotdash-staging/machines/000000000000aa", json={"config": {}}
        )
        bad = await http.put(
            "/v1/apps/hotdash-chatwoot/volumes/vol_chatwoot0storage01/extend", json={"size_gb": 1}
        )
    assert (missing.status_code, refused.status_code, bad.status_code) == (404, 404, 400)
    for response in (missing, refused, bad):
        assert_fly_error_body(response)


async def test_the_logs_api_answer_has_flys_shape(flysim: Flysim) -> None:
    transport = RecordingTransport()
    async with LogsClient(base_url=flysim.url, token=flysim.token, transport=transport) as logs:
        entries = await logs.recent("hotdash-staging")
    assert entries and entries[-1].message
    [exchange] = transport.exchanges
    assert exchange.request.url.path == "/api/v1/apps/hotdash-staging/logs"
    assert_valid_logs_answer(exchange.json())


async def test_the_validator_refuses_what_the_spec_refuses(flysim: Flysim, spec) -> None:
    """The contract check can fail: a Machine whose state is a number is refused."""
    async with httpx.AsyncClient(base_url=flysim.url) as http:
        good = await http.get(
            "/v1/apps/hotdash-staging/machines", headers={"Authorization": f"Bearer {flysim.token}"}
        )
    assert_valid_response(spec, good)
    broken = good.json()
    broken[0]["state"] = 7
    bad = httpx.Response(
        200, json=broken, request=good.request, headers={"content-type": "application/json"}
    )
    with pytest.raises(Exception, match="(?i)invalid|data"):
        assert_valid_response(spec, bad)
    with pytest.raises(Exception, match="is not of type 'string'"):
        assert_fly_error_body(
            httpx.Response(
                404,
                json={"error": 7},
                request=good.request,
                headers={"content-type": "application/json"},
            )  # fmt: skip
        )
    with pytest.raises(Exception, match="'next_token' is a required property"):
        assert_valid_logs_answer({"data": [], "meta": {}})
