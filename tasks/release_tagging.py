"""Release tags (runbook, Production Deployment step 1: `git tag -a vYYYY.MM.DDa`, `git push`).

A tag is always recorded in the audit log (`release.tagged`). When the repository is
configured (`deploy.repository`) and the commit of the shipped image is known (it was built
and tested by deploy-staging), the tag is created on that commit as an annotated tag and
pushed, before the deploy. Existing tags are the union of the audit log's and the
repository's, so a letter is never used twice.

The repository never stops an approved production deploy: a push it refuses (read-only), or
a repository that cannot be reached (a hotfix during a GitHub outage), is reported in the
record, the log and the notification, and the deploy goes on with the tag in the audit log
(and in the worker's mirror, when it could be made there).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from hotdash_ops.deploys.release_tag import check_release_tag, next_release_tag
from hotdash_ops.deploys.repository import GitError
from tasks.audit import audit, audit_log
from tasks.repository import repository

TAG_ACTION = "release.tagged"


class TagOutcome(BaseModel):
    """The tag used, what it points at and where it went."""

    tag: str
    commit: str | None = None
    pushed: bool = False
    note: str  # one sentence for the record and the notification


def existing_tags(app: str) -> list[str]:
    """Release tags already used for `app`: audit log, then the repository (fetched now; when
    it cannot be read, a warning, and the audit log's tags only)."""
    tags = {
        str(r.detail.get("tag"))
        for r in audit_log().records()
        if r.action == TAG_ACTION and r.target == app and r.detail.get("tag")
    }
    repo = repository()
    if repo is not None:
        try:
            repo.fetch()
        except GitError as exc:
            get_run_logger().warning("release tags from the audit log only: %s", exc)
        else:
            tags |= set(repo.release_tags())
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
    commit: str | None,
    image: str,
    actor: str,
    reason: str,
    approvers: list[str],
    chosen_by_default: bool,
    timezone: str,
) -> TagOutcome:
    """Runbook Create release tag: `git tag -a TAG -m "Production release ..." <commit>` and
    `git push origin TAG` when the commit is known and a repository configured; always the
    audit record.

    A default tag taken since the approval form was shown (another release the same day) moves
    to the next free letter; a tag the requester gave must still be free. Not retried: a
    second push of a tag is refused by git anyway.
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
    repo = repository()
    if repo is None or commit is None:
        why = "no deploy.repository is configured" if repo is None else "the commit is unknown"
        outcome = TagOutcome(tag=tag, note=f"{tag} recorded in the audit log only ({why})")
    else:
        message = f"Production release {tag}: {reason} ({image}; approved by " + (
            " and ".join(approvers) + ")"
        )
        detail |= {"commit": commit, "repository": repo.location}
        try:
            repo.create_tag(tag, commit, message)
            repo.push_tag(tag)
        except GitError as exc:
            logger.warning("%s", exc)
            detail["push_error"] = str(exc)
            outcome = TagOutcome(
                tag=tag,
                commit=commit,
                note=f"{tag} on {commit[:12]}, NOT pushed ({exc}); recorded in the audit log",
            )
        else:
            outcome = TagOutcome(
                tag=tag, commit=commit, pushed=True, note=f"{tag} on {commit[:12]}, pushed"
            )
        detail["pushed"] = outcome.pushed
    logger.info("%s", outcome.note)
    audit(actor=actor, action=TAG_ACTION, target=app, detail=detail, reason=reason)
    return outcome
