"""A deploy-production run started in this process (no deployment: the gates are blocking
pauses), found through the API by a unique tag, and answered through the API as the UI's
resume form does."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from prefect import get_client, tags
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun
from prefect.flow_runs import aresume_flow_run

from flows.deploy_production import deploy_production
from tests.paused_forms import waits_at

CHECKLIST = "https://example.com/go-live/2025-10-14"
# The scenario's staging image was not built by deploy-staging: shipping it needs a reason.
UNTESTED = "the scenario's staging image, not built by deploy-staging"


class DeployProductionRun:
    """`deploy_production(**params)` in the background; `params` override the defaults (which
    ship staging's scenario image as an untested image)."""

    def __init__(self, **params: Any) -> None:
        self.tag = f"test-{uuid.uuid4().hex[:8]}"
        defaults: dict[str, Any] = {
            "requested_by": "Alice",
            "reason": "Ship the October dashboard",
            "checklist_url": CHECKLIST,
            "watch_minutes": 0.05,
            "watch_interval_seconds": 1,
            "untested_image_reason": UNTESTED,
            # The shipped inventory deploys production as a canary; these runs test the rest
            # of the procedure, the canary tests ask for it.
            "strategy": "rolling",
        }
        with tags(self.tag):
            self.task = asyncio.create_task(
                deploy_production(return_state=True, **{**defaults, **params})
            )

    async def flow_run(self) -> FlowRun:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[self.tag]))
            )
        assert len(runs) == 1
        return runs[0]

    async def paused_at(self, key: str, timeout: float = 60) -> FlowRun:
        """Wait until the run waits at pause key `key`."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with get_client() as client:  # one client for the wait: each costs a TLS context
            while asyncio.get_running_loop().time() < deadline:
                if self.task.done():
                    raise AssertionError(f"run ended before {key}: {self.task.result()}")
                runs = await client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[self.tag]))
                )
                if runs and await waits_at(client, runs[0], key):
                    return runs[0]
                await asyncio.sleep(0.2)
        raise AssertionError(f"the run never waited at {key}")

    async def answer(self, key: str, approver: str, approve: bool, comment: str = "") -> None:
        run = await self.paused_at(key)
        await aresume_flow_run(
            run.id, run_input={"approver": approver, "approve": approve, "comment": comment}
        )

    async def state(self, timeout: float = 90):
        return await asyncio.wait_for(self.task, timeout)
