"""Release tags (runbook, Production Deployment step 1: `git tag -a vYYYY.MM.DDa`, `git push`).

A tag is always recorded in the audit log (`release.tagged`); when the inventory configures
`deploy.repository`, it is also created there as an annotated tag and pushed. Existing tags
are the union of both, so a letter is never used twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from hotdash_ops.deploys.git_tags import GitRepo, RepositoryConfig, repository_from_deploy_config
from hotdash_ops.deploys.release_tag import check_release_tag, next_release_tag
from tasks import fly_access
from tasks.audit import audit, audit_log

TAG_ACTION = "release.tagged"


def repository() -> RepositoryConfig | None:
    """The inventory's `deploy.repository`, paths relative to the inventory file."""
    cfg = fly_access.settings()
    inventory = fly_access.inventory(cfg)
    return repository_from_deploy_config(inventory.deploy, base=cfg.hotdash_inventory.parent)


def existing_tags(app: str) -> list[str]:
    """Release tags already used for `app`: audit log, then the repository if configured."""
    tags = {
        str(r.detail.get("tag"))
        for r in audit_log().records()
        if r.action == TAG_ACTION and r.target == app and r.detail.get("tag")
    }
    repo_cfg = repository()
    if repo_cfg is not None:
        repo = GitRepo(repo_cfg.path)
        tags |= set(repo.local_tags()) | set(repo.remote_tags(repo_cfg.remote))
    return sorted(tags)


@task(name="choose-release-tag", cache_policy=NO_CACHE)
def choose_release_tag(app: str, requested: str | None, timezone: str) -> str:
    """The given tag if it is free, else the next free `vYYYY.MM.DD<letter>` of today (in the
    inventory timezone)."""
    used = existing_tags(app)
    if requested:
        return check_release_tag(requested, used)
    return next_release_tag(used, datetime.now(UTC).astimezone(ZoneInfo(timezone)).date())


@task(name="tag-release", cache_policy=NO_CACHE)
def tag_release(
    app: str,
    tag: str,
    *,
    image: str,
    actor: str,
    reason: str,
    approvers: list[str],
    chosen_by_default: bool,
    timezone: str,
) -> str:
    """Tag the release: git tag + push when a repository is configured, and the audit record.

    A default tag taken since the approval form was shown (another release the same day) moves
    to the next free letter; a tag the requester gave must still be free. Not retried: a
    second push of a tag is refused by git anyway. Returns the tag used.
    """
    logger = get_run_logger()
    used = existing_tags(app)
    if tag in used:
        if not chosen_by_default:
            check_release_tag(tag, used)  # raises, naming the field
        day = datetime.now(UTC).astimezone(ZoneInfo(timezone)).date()
        fresh = next_release_tag(used, day)
        logger.warning("release tag %s was taken meanwhile; using %s", tag, fresh)
        tag = fresh
    detail: dict[str, object] = {"tag": tag, "image": image, "approvers": approvers}
    repo_cfg = repository()
    if repo_cfg is None:
        logger.info("no deploy.repository in the inventory: %s recorded in the audit log only", tag)
    else:
        repo = GitRepo(repo_cfg.path)
        message = f"Production release {tag}: {reason} ({image})"
        commit = repo.create_tag(tag, message, ref=repo_cfg.ref)
        repo.push_tag(repo_cfg.remote, tag)
        detail |= {"commit": commit, "repository": str(repo_cfg.path), "remote": repo_cfg.remote}
        logger.info("tagged %s as %s and pushed it to %s", commit[:12], tag, repo_cfg.remote)
    audit(actor=actor, action=TAG_ACTION, target=app, detail=detail, reason=reason)
    return tag
