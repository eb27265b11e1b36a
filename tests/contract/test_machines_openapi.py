"""Contract: every request our Machines client sends, and every response flysim gives it,
validates against Fly's Machines API spec."""

from __future__ import annotations

import httpx
import pytest

from hotdash_ops.fly.machines import MachinesClient
from tests.conftest import Flysim
from tests.openapi_contract import assert_valid_request, assert_valid_response, load_spec

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

    kinds = {(r.request.method, r.request.url.path.count("/")) for r in transport.exchanges}
    assert len(transport.exchanges) >= 3 + 5 * len(APPS) and ("POST", 5) in kinds
    for response in transport.exchanges:
        assert response.status_code < 400, (response.request.url, response.text)
        assert_valid_request(spec, response.request)
        assert_valid_response(spec, response)


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
