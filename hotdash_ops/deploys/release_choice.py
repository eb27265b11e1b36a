"""Which release an app runs now, and which one a rollback goes to (runbook: Rollback), pure.

Fly.io has no rollback command: a rollback redeploys the image of an earlier release (Fly's
docs `blueprints/rollback-guide.html.md`; docs/fly.md, "Rollback"). The rule, and only this rule:

* the target is the newest release whose status is ``complete`` and whose version is lower
  than the running one;
* never a failed (or interrupted, or in-progress) release, and never "the second row" of
  ``fly releases``: when the newest row is a failed deploy that never replaced the machines,
  the second row is the running release itself, and the right target is the one below it;
* never a release whose image is the one running now (redeploying it changes nothing), nor
  one whose image an earlier rollback moved away from (the audit log's ``rollback`` records):
  after a rollback from v5 to v4 created v6, a second rollback must go to v3, not back to the
  bad v5;
* an explicit target version must be complete and older, or the choice is refused (a person
  who names a version may redeploy any image; the rule above is only for the default).

"The running release" comes from the machines themselves (``fly_release_version`` in their
metadata, the highest one when a rolling deploy stopped half way), then from ``fly status``
(``Version``), then, when neither is known, the newest complete release.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from pydantic import BaseModel

from hotdash_ops.audit import AuditRecord
from hotdash_ops.models import AppStatus, Release


class RollbackOutcome(BaseModel):
    """What a rollback did: from which release to which, with which image."""

    app: str
    from_version: int
    from_image: str | None = None
    to_version: int
    image: str
    new_version: int | None = None  # the release the redeploy created (Fly numbers it anew)

    def describe(self) -> str:
        """ "rolled back hotdash-staging from v5 to v3 (registry.fly.io/...)"."""
        return (
            f"rolled back {self.app} from v{self.from_version} to v{self.to_version} ({self.image})"
        )


def _machine_version(status: AppStatus) -> int | None:
    # The highest version any machine runs: after a half-finished rolling deploy the newer
    # release is live on some machines, and rolling back "below" it is what is wanted.
    versions = [m.release_version for m in status.machines if m.release_version is not None]
    return max(versions) if versions else None


def newest_complete(releases: Sequence[Release]) -> Release | None:
    """The newest release whose deploy completed, or None."""
    done = [r for r in releases if r.complete]
    return max(done, key=lambda r: r.version) if done else None


def running_version(releases: Sequence[Release], status: AppStatus | None) -> int | None:
    """The version the app runs now: machines' metadata, then `fly status`, then newest
    complete release; None when there is nothing to go by."""
    if status is not None:
        version = _machine_version(status)
        if version is not None:
            return version
        if status.version:  # flyctl reports 0 for an app never deployed
            return status.version
    newest = newest_complete(releases)
    return newest.version if newest else None


def running_release(releases: Sequence[Release], status: AppStatus | None) -> Release:
    """The release the app runs now (see `running_version`); ValueError when it is unknown or
    not in the release history."""
    version = running_version(releases, status)
    if version is None:
        raise ValueError("running release: the app has no complete release and no status")
    for release in releases:
        if release.version == version:
            return release
    known = ", ".join(f"v{r.version}" for r in sorted(releases, key=lambda r: -r.version))
    raise ValueError(f"running release: v{version} is not in the release history ({known})")


def running_image(status: AppStatus | None) -> str | None:
    """The image the app's machines run (the first one that says), None when unknown."""
    if status is None:
        return None
    return next((m.image for m in status.machines if m.image), None)


def images_rolled_back_from(records: Iterable[AuditRecord], app: str) -> set[str]:
    """The images earlier rollbacks of `app` moved away from (audit `rollback` records)."""
    return {
        str(r.detail["from_image"])
        for r in records
        if r.action == "rollback" and r.target == app and r.detail.get("from_image")
    }


def rollback_target(
    releases: Sequence[Release],
    *,
    current_version: int | None = None,
    target_version: int | None = None,
    current_image: str | None = None,
    bad_images: Collection[str] = (),
) -> Release:
    """The release to roll back to (rules in the module docstring).

    `current_version` is the running release (default: the newest complete one);
    `target_version` asks for a specific release, which must be complete and older;
    `current_image` and `bad_images` are skipped by the default choice.
    """
    if current_version is None:
        newest = newest_complete(releases)
        if newest is None:
            raise ValueError("no complete release to roll back from")
        current_version = newest.version
    if target_version is not None:
        matches = [r for r in releases if r.version == target_version]
        if not matches:
            raise ValueError(f"target_version: there is no release v{target_version}")
        target = matches[0]
        if not target.complete:
            raise ValueError(
                f"target_version: v{target_version} is {target.status}; "
                "a rollback target must be a complete release"
            )
        if target.version >= current_version:
            raise ValueError(
                f"target_version: v{target_version} is not older than the running "
                f"v{current_version}; a rollback target must be older"
            )
        if not target.image_ref:
            raise ValueError(f"target_version: v{target_version} has no image to redeploy")
        return target
    skipped = set(bad_images) | ({current_image} if current_image else set())
    older = [r for r in releases if r.complete and r.version < current_version and r.image_ref]
    candidates = [r for r in older if r.image_ref not in skipped]
    if not candidates:
        why = " other than the running image and images already rolled back from" if older else ""
        raise ValueError(f"no complete release older than v{current_version}{why}")
    return max(candidates, key=lambda r: r.version)
