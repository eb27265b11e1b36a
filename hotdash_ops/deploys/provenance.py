"""Where an image comes from: the commit `deploy-staging` built it from and how that commit's
tests went, read back from the audit log, pure (runbook: Standard Deployment prerequisite "All
tests passing"; Production Deployment prerequisite "Staging deployment successful").

`deploy-staging` writes its build into the `deploy.completed` audit record of staging
(`Build.audit_detail`): the commit, the ref it was asked for, the tests' summary and whether
they passed, the image (tag, `registry.fly.io/<app>:git-<commit>`) and its digest. An image
deployed with `untested_image_reason` has no commit and carries the reason instead.
`deploy-production` looks up the image it would ship (by tag, or `repository@sha256:<digest>`):
the newest record naming it is its build. An image no record names has no known build: it
was not built and tested by `deploy-staging`.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from hotdash_ops.audit import AuditRecord
from hotdash_ops.deploys.promotion import digest_of

DEPLOYED = "deploy.completed"


class Build(BaseModel):
    """One image and what is known of how it was made."""

    image: str
    digest: str | None = None
    commit: str | None = None
    ref: str | None = None
    subject: str = ""
    tests: str | None = None  # the tests' one-line summary
    tests_passed: bool = False
    untested_reason: str | None = None
    deployed_at: str = ""
    deployed_by: str = ""

    @property
    def tested(self) -> bool:
        """Built from a known commit whose tests passed."""
        return self.commit is not None and self.tests_passed

    def describe(self) -> str:
        """One line for the approval form and the records."""
        if self.commit is None:
            why = f": {self.untested_reason}" if self.untested_reason else ""
            return f"untested: deployed to staging as a bare image{why}"
        ref = f" ({self.ref}: {self.subject})" if self.ref else ""
        return f"commit {self.commit[:12]}{ref}; {self.tests or 'tests unknown'}"

    def audit_detail(self) -> dict[str, object]:
        """What `deploy-staging` adds to its `deploy.completed` record."""
        detail: dict[str, object] = {"image": self.image, "digest": self.digest}
        if self.commit is not None:
            detail |= {
                "commit": self.commit,
                "ref": self.ref,
                "subject": self.subject,
                "tests": self.tests,
                "tests_passed": self.tests_passed,
            }
        if self.untested_reason:
            detail["untested_image_reason"] = self.untested_reason
        return detail


def _names(detail: dict[str, object], image: str) -> bool:
    digest = digest_of(image)
    if digest is not None and detail.get("digest") == digest:
        return True
    return detail.get("image") == image


def find_build(records: Iterable[AuditRecord], app: str, image: str) -> Build | None:
    """The newest build of `image` deployed to `app`, or None when no record names it."""
    found: Build | None = None
    for record in records:
        detail = record.detail
        if record.action != DEPLOYED or record.target != app or not _names(detail, image):
            continue
        commit = detail.get("commit")
        found = Build(
            image=str(detail.get("image") or image),
            digest=_text(detail.get("digest")),
            commit=_text(commit),
            ref=_text(detail.get("ref")),
            subject=str(detail.get("subject") or ""),
            tests=_text(detail.get("tests")),
            tests_passed=detail.get("tests_passed") is True,
            untested_reason=_text(detail.get("untested_image_reason")),
            deployed_at=record.ts,
            deployed_by=record.actor,
        )
    return found


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
