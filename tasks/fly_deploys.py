"""Deploys and rollbacks through flyctl (runbook: Deployment Procedures, Rollback), and the
releases that carry an app-config change (auto-stop, min running).

Mutations are never retried (a second `fly deploy` is a second release) and never cached,
and each is audited before and after. The caller holds `tasks.app_lock.app_lock(app)`: one
change of an app at a time, across flows. Reads of releases and status are idempotent and
retried. When `fly deploy` fails or outlives its time limit, the releases are read again and
what Fly recorded ("release v5 interrupted") goes with flyctl's message into the audit
log and the run's message.
"""

from __future__ import annotations

import json
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from hotdash_ops import validation
from hotdash_ops.deploys.promotion import running_digest
from hotdash_ops.deploys.provenance import Build
from hotdash_ops.deploys.release_choice import (
    RollbackOutcome,
    images_rolled_back_from,
    rollback_target,
    running_image,
    running_release,
    running_version,
)
from hotdash_ops.errors import FlyctlError, FlyError
from hotdash_ops.fly.app_config import (
    ServiceSettings,
    keep_service_settings,
    service_settings_of,
    settings_match,
    with_service_settings,
)
from hotdash_ops.fly.flyctl import STRATEGIES, Flyctl
from hotdash_ops.models import AppStatus, Release
from tasks import fly_access
from tasks.audit import audit, audit_log, audited_start

# The OCI annotation for "the commit this image was built from", written as a Docker label.
REVISION_LABEL = "org.opencontainers.image.revision"


def failure_text(exc: FlyctlError) -> str:
    """flyctl's own message, short: "`fly deploy` exited 1: Error: release v4 failed: ..."."""
    words = []
    for arg in exc.argv[1:]:
        if arg.startswith("-"):
            break
        words.append(arg)
    command = "`fly " + " ".join(words) + "`"
    said = exc.stderr.strip()[-1000:]
    if exc.exit_code < 0 or not said:
        text = f"{command} failed: {exc.message}" + (f": {said}" if said else "")
    else:
        text = f"{command} exited {exc.exit_code}: {said}"
    return text + (f"; Fly says: {exc.fly_says}" if exc.fly_says else "")


def fly_says(fly: Flyctl, app: str) -> str:
    """What Fly recorded of the newest release ("release v5 interrupted"), read after a deploy
    failed or was stopped; a release still `running` after flyctl ended means flyctl was
    killed before it could record the end."""
    try:
        releases = fly.releases(app)
    except (FlyError, ValueError) as exc:
        return f"nothing: the releases could not be read ({exc})"
    if not releases:
        return "nothing: the app has no release"
    newest = max(releases, key=lambda r: r.version)
    text = f"release v{newest.version} {newest.status}"
    if newest.status.lower() in ("running", "pending"):
        text += " (flyctl was stopped before it recorded how the deploy ended)"
    return text


@contextmanager
def _reading_releases_on_failure(fly: Flyctl, app: str) -> Iterator[None]:
    """Attach `fly_says` to a FlyctlError of a deploy before it is audited and re-raised."""
    try:
        yield
    except FlyctlError as exc:
        exc.fly_says = fly_says(fly, app)
        raise


def _current(fly: Flyctl, app: str) -> Release:
    return running_release(fly.releases(app), fly.status(app))


def _audited_flyctl(
    action: str, app: str, *, actor: str, reason: str, detail: dict[str, object]
) -> AbstractContextManager[None]:
    """`<action>.started` before the fly command, `<action>.failed` (with flyctl's redacted
    message) if it exits non-zero; the caller records how it ended."""
    return audited_start(
        actor=actor,
        action=action,
        target=app,
        detail=detail,
        reason=reason,
        errors=FlyctlError,
        error_text=failure_text,
    )


@task(name="list-releases", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def list_releases(app: str) -> list[Release]:
    """Runbook Rollback, finding the last good image: `fly releases -a APP --json --image`."""
    return fly_access.flyctl().releases(app)


@task(name="app-status", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def app_status(app: str) -> AppStatus:
    """Runbook: `fly status --app APP` (`--json`): the release and machines running now."""
    return fly_access.flyctl().status(app)


@task(name="deploy-image", cache_policy=NO_CACHE)
def deploy_image(
    app: str,
    image: str,
    *,
    actor: str,
    reason: str,
    strategy: str = "rolling",
    untested_reason: str | None = None,
    max_unavailable: int | None = None,
) -> Release:
    """Runbook Deploy: `fly deploy -a APP --image IMAGE --strategy S [--max-unavailable N]
    --yes` (a canary's promotion: rolling, one machine at a time).

    Audits deploy.started, then deploy.completed or deploy.failed (with flyctl's message,
    secrets removed); returns the release the app runs afterwards. An image that is not a
    build of a tested commit carries `untested_reason` into its deploy.completed record
    (hotdash_ops.deploys.provenance). Not retried.
    """
    validation.app_name(app)
    validation.image_ref(image)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    fly = fly_access.flyctl()
    detail: dict[str, object] = {"image": image, "strategy": strategy}
    if max_unavailable is not None:
        detail["max_unavailable"] = max_unavailable
    with (
        _audited_flyctl("deploy", app, actor=actor, reason=reason, detail=detail),
        _reading_releases_on_failure(fly, app),
    ):
        fly.deploy(app, image, strategy=strategy, max_unavailable=max_unavailable)
    status = fly.status(app)
    release = running_release(fly.releases(app), status)
    if release.image_ref != image:
        get_run_logger().warning(
            "%s runs v%s with %s after deploying %s", app, release.version, release.image_ref, image
        )
    if untested_reason:
        build = Build(image=image, digest=running_digest(status), untested_reason=untested_reason)
        detail |= build.audit_detail()
    audit(
        actor=actor,
        action="deploy.completed",
        target=app,
        detail={**detail, "version": release.version},
        reason=reason,
    )
    return release


class BuiltRelease(BaseModel):
    """A release built from a commit, and the build it runs."""

    release: Release
    build: Build


KEPT_CONFIG = "fly.hotdash-ops.json"


def _config_keeping_service_settings(fly: Flyctl, app: str, directory: Path) -> Path | None:
    """The repository's fly.toml would undo what enable-auto-stop and scale-app released
    (flyctl deploys the fly.toml it finds over the current release's config). When the two
    differ in auto-stop, auto-start or min running, a copy of fly.toml with the running
    release's values, written next to it (flyctl resolves the Dockerfile and .dockerignore
    from the config file's folder: internal/command/deploy/deploy_build.go), for `-c`; the
    run log says what differed. None: no fly.toml, or nothing differs."""
    fly_toml = directory / "fly.toml"
    if not fly_toml.is_file():
        return None  # flyctl takes the current release's config (internal/appconfig/remote.go)
    try:
        local = tomllib.loads(fly_toml.read_text())
    except tomllib.TOMLDecodeError:
        return None  # flyctl refuses it and says why
    merged, differences = keep_service_settings(local, fly.config_show(app))
    if not differences:
        return None
    get_run_logger().warning(
        "%s: the repository's fly.toml differs from the running release; kept the release's "
        "(set by enable-auto-stop or scale-app): %s",
        app,
        "; ".join(differences),
    )
    path = directory / KEPT_CONFIG
    path.write_text(json.dumps(merged, indent=2))  # flyctl reads a .json config as JSON
    return path


@task(name="deploy-source", cache_policy=NO_CACHE)
def deploy_source(
    app: str, source_dir: str, build: Build, *, actor: str, reason: str
) -> BuiltRelease:
    """Runbook Deploy (`staging-deploy.sh`): in the worktree at `build.commit`,
    `fly deploy -a APP --remote-only --image-label git-<commit>
    --label org.opencontainers.image.revision=<commit> --yes`: Fly's builders build the image
    from exactly that commit, tagged and labelled with it. The deploy.completed record carries
    the build (commit, ref, tests, image, digest; hotdash_ops.deploys.provenance), which is how
    deploy-production knows what an image was built from. Audited like `deploy_image`; not
    retried."""
    validation.app_name(app)
    directory = Path(source_dir)
    if not directory.is_dir():
        raise ValueError(f"source_dir: {source_dir} is not a directory")
    if build.commit is None:
        raise ValueError("build: a source deploy needs the commit it builds")
    fly = fly_access.flyctl()
    detail: dict[str, object] = {"commit": build.commit, "ref": build.ref}
    config = _config_keeping_service_settings(fly, app, directory)
    if config is not None:
        detail["config"] = config.name
    with (
        _audited_flyctl("deploy", app, actor=actor, reason=reason, detail=detail),
        _reading_releases_on_failure(fly, app),
    ):
        fly.deploy_source(
            app,
            directory,
            image_label=f"git-{build.commit}",
            labels={REVISION_LABEL: build.commit},
            config=config,
        )
    status = fly.status(app)
    release = running_release(fly.releases(app), status)
    built = build.model_copy(
        update={"image": release.image_ref or "", "digest": running_digest(status)}
    )
    audit(
        actor=actor,
        action="deploy.completed",
        target=app,
        detail={**detail, **built.audit_detail(), "version": release.version},
        reason=reason,
    )
    return BuiltRelease(release=release, build=built)


@task(name="rollback-app", cache_policy=NO_CACHE)
def rollback_app(
    app: str, *, actor: str, reason: str, target_version: int | None = None
) -> RollbackOutcome:
    """Runbook Rollback: `fly releases --json`, pick the newest complete release older than the
    running one (hotdash_ops.deploys.release_choice; images earlier rollbacks left, from the audit
    log, are skipped), `fly deploy --image <its image> --strategy immediate --yes`. Audits
    rollback.started, then rollback or rollback.failed. A refused choice (ValueError) changes
    nothing. Not retried."""
    validation.app_name(app)
    fly = fly_access.flyctl()
    releases = fly.releases(app)
    status = fly.status(app)
    current = running_version(releases, status)
    if current is None:
        raise ValueError(f"{app}: no running release to roll back from")
    from_image = running_image(status)
    target = rollback_target(
        releases,
        current_version=current,
        target_version=target_version,
        current_image=from_image,
        bad_images=images_rolled_back_from(audit_log().records(), app),
    )
    assert target.image_ref is not None  # rollback_target only returns releases with an image
    detail: dict[str, object] = {
        "from_version": current,
        "from_image": from_image,
        "to_version": target.version,
        "image": target.image_ref,
    }
    with (
        _audited_flyctl("rollback", app, actor=actor, reason=reason, detail=detail),
        _reading_releases_on_failure(fly, app),
    ):
        fly.deploy(app, target.image_ref, strategy="immediate")
    after = _current(fly, app)
    outcome = RollbackOutcome(
        app=app,
        from_version=current,
        from_image=from_image,
        to_version=target.version,
        image=target.image_ref,
        new_version=after.version,
    )
    audit(actor=actor, action="rollback", target=app, detail=outcome.model_dump(), reason=reason)
    get_run_logger().info("%s (now release v%s)", outcome.describe(), after.version)
    return outcome


class ServiceSettingsRelease(BaseModel):
    """A release that carries changed service settings, or why none was needed."""

    app: str
    version: int | None = None  # the new release; None when nothing had to change
    image: str | None = None
    before: list[ServiceSettings] = Field(default_factory=list)
    after: list[ServiceSettings] = Field(default_factory=list)


def release_service_settings(
    app: str,
    want: ServiceSettings,
    *,
    actor: str,
    action: str,
    reason: str,
    machines_match: Callable[[], bool],
) -> ServiceSettingsRelease:
    """Runbook: Enable Auto-Stop / Auto-scaling (min and max running): `fly config show -a APP`,
    the settings written on every service, then `fly deploy -a APP -c <config> --image
    <running image> --strategy rolling --max-unavailable 1 --yes`: a release the next deploy
    keeps (hotdash_ops.fly.app_config), rolled out by flyctl one machine at a time, each
    leased, updated (stopped ones with skip_launch) and waited for until started with its
    checks passing (internal/command/deploy/machines_deploymachinesapp.go). Nothing is
    deployed when the config and every machine (`machines_match`) already have the settings.
    The caller holds the app's lock. Audited (`<action>.started`, then `<action>` or
    `<action>.failed`); not retried."""
    fly = fly_access.flyctl()
    config = fly.config_show(app)
    changed = with_service_settings(config, want)  # ValueError: the app has no service
    outcome = ServiceSettingsRelease(app=app, before=service_settings_of(config))
    if settings_match(config, want) and machines_match():
        outcome.after = outcome.before
        return outcome
    running = _current(fly, app)
    if not running.image_ref:
        raise ValueError(f"{app}: the running release v{running.version} has no image to redeploy")
    detail: dict[str, object] = {
        "image": running.image_ref,
        "from_version": running.version,
        "settings": want.model_dump(exclude_none=True),
        "strategy": "rolling",
        "max_unavailable": 1,
    }
    with tempfile.TemporaryDirectory(prefix="hotdash-config-") as folder:
        path = Path(folder) / "fly.json"  # flyctl reads a .json config as JSON
        path.write_text(json.dumps(changed, indent=2))
        with (
            _audited_flyctl(action, app, actor=actor, reason=reason, detail=detail),
            _reading_releases_on_failure(fly, app),
        ):
            fly.deploy(app, running.image_ref, strategy="rolling", config=path, max_unavailable=1)
    release = _current(fly, app)
    outcome.version, outcome.image = release.version, running.image_ref
    outcome.after = service_settings_of(fly.config_show(app))
    audit(
        actor=actor,
        action=action,
        target=app,
        detail={**detail, "version": release.version},
        reason=reason,
    )
    get_run_logger().info("%s: release v%s carries %s", app, release.version, want.text())
    return outcome
