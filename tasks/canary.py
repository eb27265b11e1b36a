"""Production Deployment with the canary strategy: one machine on the new image, the samples
that compare it with the other machines, putting it back, the person's decision when the
verdict is inconclusive, and the analysis artifacts (table and chart).

What a canary deploy is and why it goes through the Machines API rather than `fly deploy
--strategy canary`: hotdash_ops.deploys.canary. The judge: hotdash_ops.deploys.canary_judge.
The caller holds the app's lock (tasks/app_lock.py); every change is audited.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import BaseModel, Field, ValidationError

from hotdash_ops.deploys.canary import (
    CanaryAnalysis,
    CanaryMachine,
    CanaryNotStarted,
    InstanceSample,
    choose_canary,
    instance_figures,
    instance_queries,
    samples_at,
)
from hotdash_ops.deploys.canary_judge import Judgement
from hotdash_ops.errors import FlyError
from hotdash_ops.fly.machines import MachinesClient
from hotdash_ops.inventory import AppSpec
from hotdash_ops.models import MachineConfig, PromResult
from hotdash_ops.operator_input import Comment, PersonName
from tasks import fly_access
from tasks.audit import audit, audited
from tasks.http_checks import probe_many
from tasks.reports import publish_markdown, publish_table, reports_dir

LEASE_SECONDS = 30  # the lease guards one update; it is released at once (flyctl: 13 s, renewed)
ANALYSIS_KEY = "deploy-production-canary"
CHART_KEY = "deploy-production-canary-chart"
DECISION_KEY = "canary-decision"
MAX_ASKS = 5
POLL_ENV = "HOTDASH_PAUSE_POLL_SECONDS"  # how often a paused run asks for the answer


async def _update_leased(
    client: MachinesClient, app: str, machine_id: str, config: MachineConfig, version: str | None
) -> None:
    """One Machines API update under a lease, as flyctl's `fly machine update` does: the
    lease, the update with `current_version` (412 if the machine changed since it was read)
    and the lease's nonce, then the lease released (a failed release expires on its own)."""
    nonce = await client.acquire_lease(app, machine_id, ttl_seconds=LEASE_SECONDS)
    try:
        await client.update_machine(
            app, machine_id, config, current_version=version, lease_nonce=nonce
        )
    finally:
        try:
            await client.release_lease(app, machine_id, nonce)
        except FlyError as exc:
            get_run_logger().warning("lease on %s not released (it expires): %s", machine_id, exc)


@task(name="start-canary", cache_policy=NO_CACHE)
async def start_canary(app: str, image: str, *, actor: str, reason: str) -> CanaryMachine:
    """Production Deployment, canary: the first started machine gets `image` (like `fly
    machine update <id> --image IMAGE`, through the Machines API: leased, `current_version`
    guarded, rebooted by Fly); the other started machines stay on the old image. NoBaseline
    when the app has fewer than two started machines (nothing changed); CanaryNotStarted when
    the update failed (a 5xx may still have applied it: the caller reads the machine again,
    `canary_applied`). Audited (`canary.started`, ok or failed); never retried."""
    async with fly_access.machines_client() as client:
        choice = choose_canary(await client.list_machines(app))
        machine = choice.canary
        assert machine.config is not None  # choose_canary picks machines with a config
        canary = CanaryMachine(
            app=app,
            machine_id=machine.id,
            image=image,
            old_image=machine.image or "",
            old_config=machine.config,
            baseline=[m.id for m in choice.baseline],
        )
        detail = {
            "machine": machine.id,
            "from_image": canary.old_image,
            "image": image,
            "baseline": canary.baseline,
        }
        try:
            with audited(
                actor=actor,
                action="canary.started",
                target=app,
                detail=detail,
                reason=reason,
                errors=FlyError,
            ):
                new = machine.config.model_copy(update={"image": image})
                await _update_leased(client, app, machine.id, new, machine.instance_id)
        except FlyError as exc:
            raise CanaryNotStarted(canary, str(exc)) from exc
    get_run_logger().info(
        "%s: canary machine %s runs %s; baseline %s", app, machine.id, image, canary.baseline
    )
    return canary


@task(name="canary-applied", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
async def canary_applied(app: str, machine_id: str, image: str) -> bool:
    """After a failed canary update: does the machine run the new image anyway? (`fly machine
    status <id>`)."""
    async with fly_access.machines_client() as client:
        machine = await client.get_machine(app, machine_id)
    return machine.image == image


@task(name="sample-canary", cache_policy=NO_CACHE)
async def sample_canary(spec: AppSpec, canary: CanaryMachine) -> list[InstanceSample]:
    """One sampling round of every machine: 5xx ratio and p95 from Fly's Prometheus per
    instance (`fly_app_http_*` over the last minute), and `curl -H 'fly-force-instance-id: ID'
    https://<app>.fly.dev/health` per machine, at the same time. A failed query leaves that
    round's figures without a value (not judged); a machine that does not answer /health
    has failed it."""
    cfg = fly_access.settings()
    at = datetime.now(UTC)
    url = cfg.app_url(spec.name, spec.health_path)
    machines = canary.machines
    queries = instance_queries(spec.name)
    async with fly_access.prometheus_client(cfg) as prom:

        async def query(promql: str) -> PromResult | None:
            try:
                return await prom.query(promql, at=at)
            except FlyError as exc:
                get_run_logger().warning("canary sample: query failed: %s", exc)
                return None

        answers, probes = await asyncio.gather(
            asyncio.gather(*(query(q) for q in queries.values())),
            probe_many([(url, 200, None)] * len(machines), instances=list(machines)),
        )
    requests, errors, p95 = answers
    figures = (
        instance_figures(requests, errors, p95)
        if requests is not None and errors is not None and p95 is not None
        else {}
    )
    failed = {m: p.status != p.expected_status for m, p in zip(machines, probes, strict=True)}
    return samples_at(
        at, canary=canary.machine_id, machines=machines, figures=figures, health_failed=failed
    )


@task(name="roll-back-canary", cache_policy=NO_CACHE)
async def roll_back_canary(canary: CanaryMachine, *, actor: str, reason: str) -> None:
    """Put the canary machine back: its whole old config (the old image) through the Machines
    API, leased and `current_version` guarded, as when it was changed. Nothing else was
    changed, so nothing else is touched. Audited (`canary.rolled_back`, ok or failed); not
    retried."""
    app = canary.app
    async with fly_access.machines_client() as client:
        machine = await client.get_machine(app, canary.machine_id)
        with audited(
            actor=actor,
            action="canary.rolled_back",
            target=app,
            detail={
                "machine": canary.machine_id,
                "from_image": canary.image,
                "image": canary.old_image,
            },  # fmt: skip
            reason=reason,
            errors=FlyError,
        ):
            await _update_leased(
                client, app, canary.machine_id, canary.old_config, machine.instance_id
            )
    get_run_logger().info(
        "%s: canary machine %s back on %s", app, canary.machine_id, canary.old_image
    )


@task(name="publish-canary-analysis", cache_policy=NO_CACHE)
async def publish_canary_analysis(
    analysis: CanaryAnalysis, judgement: Judgement, image: str
) -> None:
    """The analysis for people: a table artifact (one row per metric, the verdict first) and
    a chart of canary against baseline over time (a PNG under `<state>/reports/`, embedded in
    a markdown artifact)."""
    # matplotlib only here: importing it costs every deploy-production process 2 s (each
    # resume after an approval is a new process), and only a canary deploy draws.
    from hotdash_ops.charts import png_data_uri
    from hotdash_ops.deploys.canary_chart import render_canary_chart

    await publish_table(ANALYSIS_KEY, judgement.rows(), description=judgement.reason)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = reports_dir() / f"canary-{analysis.app}-{stamp}.png"
    title = f"{analysis.app}: canary {analysis.canary} ({image}) against {len(analysis.baseline)}"
    await asyncio.to_thread(
        render_canary_chart, analysis, judgement, path, title=f"{title} baseline machine(s)"
    )
    rows = analysis.timeline()
    markdown = "\n".join(
        [
            f"# Canary analysis of `{analysis.app}`: {judgement.verdict.upper()}",
            "",
            judgement.reason,
            "",
            f"![canary against baseline over time]({png_data_uri(path)})",
            "",
            f"{len(rows)} sampling rounds; chart file: `{path}`",
            "",
            judgement.table(),
        ]
    )
    await publish_markdown(CHART_KEY, markdown, description=judgement.reason)


class CanaryDecisionForm(RunInput):
    """The decision when the canary analysis is inconclusive (the pause form)."""

    decided_by: PersonName = Field(description="Who decides (name or e-mail)")
    promote: bool = Field(
        default=False,
        description="On: deploy the new image to every machine. Off: put the canary back.",
    )
    comment: Comment = Field(default="", description="Why; kept in the audit log")


class CanaryDecision(BaseModel):
    """What was decided about an inconclusive canary, by whom."""

    promote: bool
    decided_by: str
    comment: str = ""
    timed_out: bool = False

    def describe(self) -> str:
        if self.timed_out:
            return f"no decision in time ({self.comment}): the canary is rolled back"
        what = "promote" if self.promote else "roll back"
        why = f" ({self.comment})" if self.comment else ""
        return f"{self.decided_by} decided to {what}{why}"


async def ask_about_canary(
    app: str, judgement: Judgement, *, image: str, timeout_minutes: float
) -> CanaryDecision:
    """Inconclusive and the inventory says `ask`: pause (pause keys `canary-decision`, then
    `canary-decision-2`... after an answer the form's rules refuse) with the evidence above
    the form. A blocking pause, not a suspend: the run holds the app's lock and a canary
    machine is live, so the process stays. No answer in `timeout_minutes`: rolled back.
    Call from the flow body (a pause cannot happen inside a task)."""
    logger = get_run_logger()
    description = "\n".join(
        [
            f"## Canary of `{app}` is inconclusive: promote or roll back?",
            "",
            f"The canary machine runs `{image}`; the others run the old image. {judgement.reason}.",
            "",
            judgement.table(),
            "",
            f"Switch **promote** on to deploy the new image to every machine, or leave it off "
            f"to put the canary machine back. Without an answer in {timeout_minutes:g} minutes "
            "the canary is rolled back.",
        ]
    )
    form = CanaryDecisionForm.with_initial_data(description=description)
    poll = max(1, int(float(os.environ.get(POLL_ENV, "10"))))
    for attempt in range(1, MAX_ASKS + 1):
        key = DECISION_KEY if attempt == 1 else f"{DECISION_KEY}-{attempt}"
        try:
            answer = await pause_flow_run(  # type: ignore[misc]
                wait_for_input=form,
                timeout=int(timeout_minutes * 60),
                poll_interval=poll,
                key=key,
            )
        except ValidationError as exc:
            logger.warning("decision refused, asking again: %s", exc.errors()[0]["msg"])
            continue
        except FlowPauseTimeout:
            return CanaryDecision(
                promote=False,
                decided_by="canary-decision timeout",
                comment=f"{timeout_minutes:g} minutes passed",
                timed_out=True,
            )
        decision = CanaryDecision(
            promote=answer.promote, decided_by=answer.decided_by, comment=answer.comment
        )
        audit(
            actor=decision.decided_by,
            action="canary.decided",
            target=app,
            detail={"promote": decision.promote, "key": key, "verdict": judgement.verdict},
            reason=decision.comment or None,
        )
        return decision
    return CanaryDecision(
        promote=False,
        decided_by="canary-decision",
        comment=f"{MAX_ASKS} answers refused",
        timed_out=True,
    )
