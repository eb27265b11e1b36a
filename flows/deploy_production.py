"""Production Deployment (runbook), with its two approval gates and the post-deploy watch.

Prerequisites, checked before anything changes: staging's latest release is complete and its
smoke test passes now; the image to ship (staging's, by digest) is a build of a commit whose
tests passed in deploy-staging (hotdash_ops.deploys.provenance), or `untested_image_reason`
says why it ships anyway; the deploy window (hotdash_ops.deploys.window: a freeze stops any
deploy, a `critical` one waits for the off-hours) unless overridden with a reason; production's
error budget (hotdash_ops.deploys.budget_gate: while it is spent, only a `critical` fix with
`error_budget_reason` goes). What would be deployed (image, commit and its tests' result), the
release tag, staging's smoke result, parity with production, the deploy strategy, the error
budget and who may approve are then put in front of two approvers: manager, then reliability
(the approval contract: hotdash_ops.deploys.approvals).

After both approvals: 1. the release tag is created on the commit and pushed (and always
recorded in the audit log), 2. the image is deployed under the app's lock, 3. the smoke test
verifies production, 4. production is watched for `watch_minutes` against the figures taken
just before the deploy; then the status page is told and stakeholders are notified with the
commit, tag, image digest and approvers. A failed smoke test or a sustained regression rolls
production back to the release it ran before, automatically, and people are told.

With the canary strategy (the inventory's `deploy.strategy` of the app, or `strategy`), step 2
first puts the new image on ONE machine and compares it with the others for
`analysis_minutes` (hotdash_ops.deploys.canary, canary_judge): a failed canary machine gets
its old image back and nothing else changes; a passing one is followed by the other machines,
one at a time; an inconclusive one (too little traffic) is decided by the inventory's
`on_inconclusive` (promote, rollback, or a person in the `canary-decision` form).

The run ends Completed only when production runs the new release after the watch; every
other ending is Failed with a message that says why (rejected, timed out, outside the window,
rolled back). A second flow, `deploy-production-approval-deadline`, wakes a suspended run
when its approval deadline passes (see tasks/approvals.py).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import partial
from typing import Annotated
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.states import Completed, Failed
from pydantic import Field

from hotdash_ops.deploys.approvals import ApprovalRequest
from hotdash_ops.deploys.budget_gate import BudgetCheck, check_budget
from hotdash_ops.deploys.canary import (
    CanaryAnalysis,
    CanaryMachine,
    CanaryNotStarted,
    DeployPlan,
    NoBaseline,
    Strategy,
    deploy_plan,
    sample_rounds,
)
from hotdash_ops.deploys.canary_judge import Judgement, judge
from hotdash_ops.deploys.config import parse_deploy_settings
from hotdash_ops.deploys.promotion import (
    NotReady,
    Promotion,
    check_staging_release,
    choose_image,
    digest_of,
    running_digest,
)
from hotdash_ops.deploys.provenance import Build, find_build
from hotdash_ops.deploys.record import DeployRecord, StepResult
from hotdash_ops.deploys.regression import (
    Figures,
    WatchOutcome,
    WatchRules,
    evaluate,
    rules_from_deploy_config,
    sample_count,
)
from hotdash_ops.deploys.release_choice import running_release
from hotdash_ops.deploys.window import (
    OverrideReason,
    WindowCheck,
    check_window,
    windows_from_deploy_config,
)
from hotdash_ops.errors import FlyctlError, FlyError
from hotdash_ops.inventory import AppSpec
from hotdash_ops.local_time import shown
from hotdash_ops.models import Release
from hotdash_ops.operator_input import Justification, Reason, Requester
from hotdash_ops.run_forms import optional, optional_choice
from hotdash_ops.validation import HttpsUrl, ImageRef, ReleaseTag
from tasks import fly_access
from tasks.announce import tell
from tasks.app_lock import app_lock
from tasks.approvals import (
    GateOutcome,
    close_approval,
    expire_approval,
    replay_safe,
    request_approvals,
)
from tasks.audit import audit_log
from tasks.canary import (
    ask_about_canary,
    canary_applied,
    publish_canary_analysis,
    roll_back_canary,
    sample_canary,
    start_canary,
)
from tasks.checks import checked
from tasks.deploy_runs import RollbackNotDone, finish_run, roll_back_and_verify
from tasks.deploy_watch import Progress, read_figures
from tasks.error_budgets import read_error_budgets, with_slos
from tasks.fly_deploys import app_status, deploy_image, failure_text, list_releases
from tasks.parity_check import check_parity
from tasks.release_tagging import choose_release_tag, tag_release
from tasks.reports import publish_table
from tasks.smoke_test import smoke_test, wait_for_machines
from tasks.status_page import post_release

SUMMARY_KEY = "deploy-production"
VERDICT_STEP: dict[str, StepResult] = {"pass": "ok", "fail": "failed", "inconclusive": "info"}
PROGRESS_KEY = "deploy-production-progress"
BASELINE_MINUTES = 15
SAMPLE_MINUTES = 1


class Prerequisites(Exception):
    """A prerequisite is not met: nothing was asked and nothing changed."""


@task(name="check-deploy-window", cache_policy=NO_CACHE)
async def check_deploy_window(critical: bool, override_reason: str | None) -> WindowCheck:
    """Runbook prerequisite "Off-hours deployment window (if critical)", and the inventory's
    freezes, in the inventory timezone."""
    inventory = fly_access.inventory()
    windows = windows_from_deploy_config(inventory.deploy)
    return check_window(
        windows, inventory.timezone, critical=critical, override_reason=override_reason
    )


@task(name="check-error-budget", cache_policy=NO_CACHE)
async def check_error_budget(
    production: str, critical: bool, error_budget_reason: str | None
) -> BudgetCheck:
    """Production's error budget (hotdash_ops.deploys.budget_gate): a spent budget lets only a
    critical fix with a reason go; the result is the approval form's "error budget" line."""
    spec = fly_access.inventory().app(production)
    budgets = await read_error_budgets(with_slos([spec])) if spec.slo else {}
    return check_budget(
        production, budgets.get(production), critical=critical, reason=error_budget_reason
    )


@task(name="find-staging-build", cache_policy=NO_CACHE)
def find_staging_build(staging: str, promotion: Promotion) -> Build | None:
    """The build of the image to ship, from deploy-staging's audit records (by digest or tag):
    the commit it was built from and its tests' result; None when deploy-staging never
    deployed it."""
    records = audit_log().records()
    found = find_build(records, staging, promotion.image)
    if found is None and promotion.from_staging and promotion.staging_image:
        found = find_build(records, staging, promotion.staging_image)
    return found


@task(name="parity-for-approvers", cache_policy=NO_CACHE)
async def parity_for_approvers(staging: str, production: str) -> str:
    """Runbook `verify-environment-parity.sh`, as one line for the approval form."""
    settings = parse_deploy_settings(fly_access.inventory().deploy)
    try:
        report = await checked(check_parity, staging, production, settings.required_secrets)
    except Exception as exc:  # approvers see that parity is unknown, and why
        return f"not checked: {type(exc).__name__}: {exc}"
    blocking = "; ".join(f"{i.check}: {i.note}" for i in report.blocking)
    return f"{report.summary()} BLOCKING: {blocking}" if blocking else report.summary()


@flow(name="deploy-production", log_prints=False)
async def deploy_production(
    requested_by: Requester,
    reason: Reason,
    checklist_url: HttpsUrl,
    critical: bool = False,
    release_tag: optional(ReleaseTag) = "",
    image: optional(ImageRef) = "",
    untested_image_reason: optional(Justification) = "",
    deploy_window_override_reason: optional(OverrideReason) = "",
    error_budget_reason: optional(Justification) = "",
    strategy: optional_choice(Strategy) = "",
    approval_timeout_hours: Annotated[float, Field(gt=0, le=168)] = 24,
    watch_minutes: Annotated[float, Field(ge=0, le=240)] = 15,
    watch_interval_seconds: Annotated[float, Field(gt=0, le=600)] = 30,
    analysis_minutes: optional(
        Annotated[float, Field(gt=0, le=120)], pattern="^[0-9]*[.]?[0-9]*$"
    ) = "",
) -> State:
    """Deploy staging's image to production after manager and reliability approval.

    Args:
        requested_by: who asks for this deploy (may approve neither gate)
        reason: why (shown to approvers, kept in the audit log)
        checklist_url: the completed go-live checklist (https)
        critical: a risky release (schema migration, breaking change, major upgrade): it may
            deploy only in the inventory's off-hours window (deploy.off_hours, default
            weeknights 20:00-06:00 and the whole weekend, inventory timezone); a normal
            release has no window, only the inventory's freezes stop it
            release_tag: leave empty for the next free tag of today (vYYYY.MM.DD + letter)
        image: leave empty for what staging runs now, pinned by digest
        untested_image_reason: leave empty, unless the image is not a build of a commit
            whose tests passed in deploy-staging: why it must ship anyway (audited, shown to
            the approvers)
        deploy_window_override_reason: leave empty; to deploy in a freeze, or a critical
            release outside the off-hours, say why
        approval_timeout_hours: (expert) how long both gates together wait before the
            deploy is rejected
        watch_minutes: (expert) how long production is watched after the deploy
        watch_interval_seconds: (expert) time between two samples of the watch
        error_budget_reason: leave empty, unless production's error budget is spent: then
        only a critical fix may go: why this one must (needs `critical`; audited, shown to
        the approvers)
    strategy: canary (one machine first, judged against the others) or rolling; default
        the inventory's `deploy.strategy` for the production app
    analysis_minutes: (expert) how long a canary is compared with the other machines;
        empty: the inventory's `deploy.canary.analysis_minutes` (10)
    """
    inventory = fly_access.inventory()
    staging = inventory.environment_app("staging")
    production = inventory.environment_app("production")
    watch_rules = rules_from_deploy_config(inventory.deploy)  # a bad setting fails here, early
    samples = sample_count(watch_minutes, watch_interval_seconds)
    plan = deploy_plan(production.deploy, strategy, analysis_minutes)
    record = DeployRecord(
        title=f"Production deploy of {production.name}",
        facts={
            "requested by": requested_by,
            "reason": reason,
            "checklist": checklist_url,
            "strategy": plan.describe(),
        },
    )
    finish = partial(finish_run, record, key=SUMMARY_KEY)

    # Prerequisites: deployment window; staging deployment successful; all tests passing.
    # Everything up to the gates is replayed from persisted results when a suspended run
    # resumes (tasks/approvals.py), so the form the approvers saw stays the same.
    window = await replay_safe(check_deploy_window)(critical, deploy_window_override_reason)
    record.add("deploy window", "ok" if window.allowed else "failed", window.message)
    if not window.allowed:
        return await finish(Failed(message=f"not deployed: {window.message}"))
    # Production's error budget: while it is spent, only a critical fix goes.
    budget = await replay_safe(check_error_budget)(production.name, critical, error_budget_reason)
    record.add("error budget", "ok" if budget.allowed else "failed", budget.message)
    if not budget.allowed:
        return await finish(Failed(message=f"not deployed: {budget.message}"))
    if budget.spent:
        record.facts["error budget spent, critical fix"] = error_budget_reason or ""
    try:
        promotion, staging_smoke = await _staging_prerequisites(staging.name, image)
    except Prerequisites as exc:
        record.add("staging", "failed", str(exc))
        return await finish(Failed(message=f"not deployed: {exc}"))
    record.add("staging", "ok", f"{staging_smoke}; promoting {promotion.note}")
    build = replay_safe(find_staging_build)(staging.name, promotion)
    tested = build is not None and build.tested
    made = (
        build.describe() if build else f"unknown: deploy-staging never deployed {promotion.image}"
    )
    record.facts["commit and tests"] = made
    if not tested and untested_image_reason is None:
        record.add("tests", "failed", made)
        return await finish(
            Failed(
                message=(
                    f"not deployed: {promotion.image} is not a build of a tested commit "
                    f"({made}); deploy staging from a ref first, or give untested_image_reason"
                )
            )
        )
    record.add("tests", "ok" if tested else "info", made)
    if not tested:
        record.facts["untested image"] = untested_image_reason or ""
    commit = build.commit if build is not None and tested else None
    parity = await replay_safe(parity_for_approvers)(staging.name, production.name)
    record.add("parity", "info", parity)
    tag = replay_safe(choose_release_tag)(production.name, release_tag, inventory.timezone)
    record.facts |= {"image": promotion.image, "release tag": tag}

    # Manager approval, then reliability approval.
    outcome = await request_approvals(
        ApprovalRequest(
            app=production.name,
            image=promotion.image,
            release_tag=tag,
            checklist_url=checklist_url,
            reason=reason,
            requested_by=requested_by,
            staging_smoke=staging_smoke,
            parity=parity,
            window=window.message,
            build=made,
            untested_image_reason=None if tested else untested_image_reason,
            critical=critical,
            strategy=plan.describe(),
            error_budget=budget.message,
            timezone=inventory.timezone,
        ),
        allowed={gate: list(names) for gate, names in inventory.approvers.items()},
        timeout_hours=approval_timeout_hours,
    )
    for decision in outcome.decisions:
        record.add(f"approval {decision.key}", _step(decision.verdict.value), decision.reason)
    finish = partial(_finish_decided, record, production.name, outcome)
    if not outcome.approved:
        return await finish(Failed(message=outcome.final.reason))
    approvers = [outcome.approvers[g] for g in ("manager", "reliability")]
    record.facts["approved by"] = " and ".join(approvers)

    # The window is about when the deploy happens: check it again now.
    window_now = await check_deploy_window(critical, deploy_window_override_reason)
    if not window_now.allowed:
        record.add("deploy window", "failed", window_now.message)
        return await finish(
            Failed(message=f"approved, but not deployed: {window_now.message}"),
            subject=f"deploy-production of {production.name}: not deployed",
        )

    # 1. Create release tag (on the commit, pushed before the deploy)
    tagged = tag_release(
        production.name,
        tag,
        commit=commit,
        image=promotion.image,
        actor=requested_by,
        reason=reason,
        approvers=approvers,
        chosen_by_default=release_tag is None,
        timezone=inventory.timezone,
    )
    tag = tagged.tag
    record.facts["release tag"] = tag
    record.add("release tag", "ok" if tagged.pushed else "info", tagged.note)

    # 2-4 and Post-Deployment, under the app's lock. A failed step rolls production back to
    # the release it ran before (verified and announced) and the run ends Failed.
    app = production.name
    why = f"{reason} ({tag}; approved by {' and '.join(approvers)})"
    progress = Progress(PROGRESS_KEY)
    async with app_lock(app):
        previous = running_release(list_releases(app), app_status(app))
        baseline = await read_figures(production, window_minutes=BASELINE_MINUTES)
        record.add("baseline", "info", f"v{previous.version}: {baseline.describe()}")

        # 2. Deploy; with the canary strategy, one machine first, judged against the others
        if plan.strategy == "canary":
            stopped = await _canary(production, promotion.image, plan, record, progress, why)
            if stopped is not None:
                return await finish(stopped)
        await progress.update(5, f"deploying {promotion.image} to {app}")
        try:
            # After a canary, the rest one machine at a time, each waited for by flyctl.
            release = deploy_image(
                app,
                promotion.image,
                actor=requested_by,
                reason=why,
                max_unavailable=1 if plan.strategy == "canary" else None,
            )
        except FlyctlError as exc:
            record.add("deploy", "failed", failure_text(exc))
            return await finish(await _after_failed_deploy(app, previous, exc, record))
        record.add("deploy", "ok", f"v{release.version} runs {release.image_ref}")

        # 3. Verify production
        await progress.update(20, f"smoke test of {app}")
        smoke = await checked(smoke_test, app, artifact_key="deploy-production-smoke")
        record.add("smoke test", "ok" if smoke.passed else "failed", smoke.summary())
        if not smoke.passed:
            why_back = f"after deploy: {smoke.summary()}"
            return await finish(await _roll_back(app, previous, why_back, record))

        # Post-Deployment: monitor for watch_minutes, check error rates.
        watch = await _watch(
            production, baseline, samples, watch_interval_seconds, watch_rules, progress
        )
        record.add("watch", "failed" if watch.regressed else "ok", watch.reason)
        if watch.regressed:
            return await finish(await _roll_back(app, previous, watch.reason, record))

    # Post-Deployment: update status page, notify stakeholders.
    await progress.update(100, f"{app} runs {tag}")
    message = f"deployed {tag} to {app}: v{release.version}, {watch.reason}"
    digest = digest_of(promotion.image) or _running_digest(app) or "unknown"
    shipped = commit or f"none (untested image: {untested_image_reason})"
    await _tell_status_page(app, tag, commit, f"{tag} is live on {app} ({message})")
    await tell(
        f"deploy-production: {tag} deployed to {app}",
        f"{message}.\ncommit: {shipped}\nrelease tag: {tagged.note}\n"
        f"image: {promotion.image}\ndigest: {digest}\n"
        f"approved by: {' and '.join(approvers)}\nrequested by {requested_by}: {reason}",
    )
    return await finish(Completed(message=message))


async def _canary(
    spec: AppSpec,
    image: str,
    plan: DeployPlan,
    record: DeployRecord,
    progress: Progress,
    why: str,
) -> State | None:
    """Production Deployment, canary: one machine on `image`, compared with the others for
    the analysis time and judged. None: go on and deploy the rest (passed, promoted, or no
    canary possible); a Failed state: the canary machine is back on the old image and
    nothing else changed (or, if that failed too, a person is needed)."""
    app = spec.name
    actor = "deploy-production"
    await progress.update(2, f"canary: one machine of {app} gets {image}")
    try:
        canary = await start_canary(app, image, actor=actor, reason=why)
    except NoBaseline as exc:
        record.add("canary", "skipped", f"{exc}: deploying rolling, one machine at a time")
        return None
    except CanaryNotStarted as exc:
        record.add("canary", "failed", str(exc))
        if await canary_applied(app, exc.canary.machine_id, image):
            return await _canary_failed(spec, exc.canary, str(exc), record)
        return Failed(message=f"not deployed: {exc}; nothing changed")
    record.add("canary", "info", f"machine {canary.machine_id} runs {image}")
    limit = parse_deploy_settings(fly_access.inventory().deploy).settle_timeout_seconds
    settled = await wait_for_machines(app, limit)
    broken = [w for w in (settled.waiting + settled.failing) if w.startswith(canary.machine_id)]
    if broken:
        why_not = f"the canary machine did not pass its checks: {'; '.join(broken)}"
        return await _canary_failed(spec, canary, why_not, record)

    analysis = await _analyse(spec, canary, plan, progress)
    judgement = judge(analysis.for_judge(), plan.policy)
    await publish_canary_analysis(analysis, judgement, image)
    record.add("canary analysis", VERDICT_STEP[judgement.verdict], judgement.reason)
    if judgement.verdict == "pass":
        return None
    if judgement.verdict == "fail":
        return await _canary_failed(spec, canary, judgement.reason, record, judgement)
    # Inconclusive (too little traffic): the inventory's on_inconclusive decides.
    promote = plan.policy.on_inconclusive == "promote"
    if plan.policy.on_inconclusive == "ask":
        await tell(
            f"deploy-production: canary of {app} inconclusive, a decision is needed",
            f"{judgement.reason}\n\n{judgement.table()}\n\nDecide in the run's "
            f"canary-decision form within {plan.policy.decision_timeout_minutes:g} minutes.",
        )
        decision = await ask_about_canary(
            app, judgement, image=image, timeout_minutes=plan.policy.decision_timeout_minutes
        )
        record.add("canary decision", "info", decision.describe())
        promote = decision.promote
    else:
        setting = f"inventory on_inconclusive: {plan.policy.on_inconclusive}"
        record.add("canary decision", "info", setting)
    if promote:
        return None
    return await _canary_failed(
        spec, canary, f"inconclusive, not promoted: {judgement.reason}", record, judgement
    )


async def _analyse(
    spec: AppSpec, canary: CanaryMachine, plan: DeployPlan, progress: Progress
) -> CanaryAnalysis:
    """Sample every machine every HOTDASH_CANARY_SAMPLE_SECONDS for the analysis time."""
    interval = fly_access.settings().hotdash_canary_sample_seconds
    rounds = sample_rounds(plan.policy.analysis_minutes, interval)
    analysis = CanaryAnalysis(app=spec.name, canary=canary.machine_id, baseline=canary.baseline)
    for i in range(rounds):
        await asyncio.sleep(interval)
        analysis.samples += await sample_canary(spec, canary)
        await progress.update(2 + 3 * (i + 1) / rounds, f"canary analysis {i + 1}/{rounds}")
    return analysis


async def _canary_failed(
    spec: AppSpec,
    canary: CanaryMachine,
    why: str,
    record: DeployRecord,
    judgement: Judgement | None = None,
) -> State:
    """The canary machine back on the old image, nothing else changed; people are told, with
    the comparison table when there is one."""
    app = spec.name
    table = f"\n\n{judgement.table()}" if judgement else ""
    try:
        await roll_back_canary(canary, actor="deploy-production", reason=why)
    except FlyError as exc:
        message = f"CANARY ROLLBACK FAILED ({exc}) after: {why}; {app} needs a person now"
        record.add("canary rollback", "failed", message)
        await tell(f"deploy-production: canary rollback of {app} FAILED", message + table)
        return Failed(message=message)
    back = f"machine {canary.machine_id} back on {canary.old_image}"
    record.add("canary rollback", "ok", back)
    message = f"canary rolled back ({back}; nothing else changed): {why}"
    await tell(f"deploy-production: canary of {app} rolled back", message + table)
    return Failed(message=message)


async def _finish_decided(
    record: DeployRecord, app: str, outcome: GateOutcome, state: State, **kw: str
) -> State:
    """End a run the gates decided: the approval artifact also says how the deploy ended."""
    await close_approval(app, outcome, state.message or state.name or "")
    return await finish_run(record, state, key=SUMMARY_KEY, **kw)


def _running_digest(app: str) -> str | None:
    """The digest production's machines run now; None when it cannot be read (the deploy is
    done and verified: a failed read only leaves the notification without it)."""
    try:
        return running_digest(app_status(app))
    except FlyctlError:
        return None


async def _tell_status_page(app: str, tag: str, commit: str | None, message: str) -> None:
    """Post-Deployment "Update status page"; a status page that cannot be told is a warning,
    not a failed deploy (the deploy is done and verified)."""
    try:
        await post_release(app=app, release_tag=tag, commit=commit, message=message)
    except Exception as exc:  # any delivery failure is only logged, as `tell` does
        get_run_logger().warning("status page not updated: %s", exc)


def _step(verdict: str) -> StepResult:
    return "ok" if verdict == "approved" else "info" if verdict == "refused" else "failed"


async def _staging_prerequisites(staging: str, image: str | None) -> tuple[Promotion, str]:
    """Staging's latest release is complete and its smoke test passes; the image to promote."""
    releases = replay_safe(list_releases)(staging)
    status = replay_safe(app_status)(staging)
    try:
        staging_release = check_staging_release(staging, releases)
        promotion = choose_image(staging_release, status, requested=image)
    except NotReady as exc:
        raise Prerequisites(str(exc)) from None
    report = await checked(
        replay_safe(smoke_test), staging, artifact_key="deploy-production-staging-smoke"
    )
    if not report.passed:
        raise Prerequisites(f"staging {report.summary()}")
    return promotion, report.summary()


async def _watch(
    spec: AppSpec,
    baseline: Figures,
    samples: int,
    interval: float,
    rules: WatchRules,
    progress: Progress,
) -> WatchOutcome:
    """A sample every `interval` seconds; stop early on a sustained regression."""
    taken: list[Figures] = []
    outcome = evaluate(baseline, taken, rules)
    for i in range(samples):
        await asyncio.sleep(interval)
        taken.append(await read_figures(spec, window_minutes=SAMPLE_MINUTES))
        outcome = evaluate(baseline, taken, rules)
        latest = outcome.assessments[-1]
        state = "bad: " + "; ".join(latest.reasons) if latest.bad else latest.figures.describe()
        await progress.update(25 + 75 * (i + 1) / samples, f"watch {i + 1}/{samples}: {state}")
        if outcome.regressed:
            break
    await publish_table(
        "deploy-production-watch",
        [
            {
                "time": shown(a.figures.at, fly_access.inventory().timezone),
                "figures": a.figures.describe(),
                "result": "unknown" if a.unknown else ("BAD" if a.bad else "ok"),
                "why": "; ".join(a.reasons),
            }
            for a in outcome.assessments
        ],
        description=outcome.reason,
    )
    return outcome


async def _roll_back(app: str, previous: Release, why: str, record: DeployRecord) -> State:
    """Runbook Rollback to the release production ran before; verified and announced."""
    try:
        done = await roll_back_and_verify(
            app,
            actor="deploy-production",
            reason=why,
            target_version=previous.version,
            smoke_key="deploy-production-rollback-smoke",
            record=record,
        )
    except RollbackNotDone as exc:
        message = f"ROLLBACK FAILED ({exc}) after: {why}; {app} needs a person now"
        await tell(f"deploy-production: rollback of {app} FAILED", message)
        return Failed(message=message)
    message = f"rolled back: {why}; {done.outcome.describe()}, verified: {done.smoke.summary()}"
    await tell(f"deploy-production: {app} rolled back", message)
    return Failed(message=message)


async def _after_failed_deploy(
    app: str, previous: Release, exc: FlyctlError, record: DeployRecord
) -> State:
    """A deploy flyctl reported as failed: roll back if production moved, else say so."""
    now = running_release(list_releases(app), app_status(app))
    said = failure_text(exc)
    if now.version != previous.version:
        return await _roll_back(app, previous, f"deploy failed: {said}", record)
    message = f"deploy failed: {said}; {app} still runs v{previous.version}, nothing changed"
    await tell(f"deploy-production: deploy to {app} failed", message)
    return Failed(message=message)


@flow(name="deploy-production-approval-deadline", log_prints=False)
async def approval_deadline(flow_run_id: UUID, deadline: datetime) -> str:
    """Wake a deploy-production run still waiting for approval when its deadline passes.

    Scheduled by deploy-production itself at the deadline; never started by hand.

    Args:
        flow_run_id: the deploy-production run
        deadline: its approval deadline
    """
    return await expire_approval(flow_run_id, deadline)


if __name__ == "__main__":
    import sys

    asyncio.run(
        deploy_production(requested_by=sys.argv[1], reason=sys.argv[2], checklist_url=sys.argv[3])
    )
