"""Where an image comes from (hotdash_ops.deploys.provenance): deploy-staging's audit records
read back, by digest or tag."""

from __future__ import annotations

from pathlib import Path

from hotdash_ops.audit import AuditLog
from hotdash_ops.deploys.provenance import Build, find_build

STAGING = "hotdash-staging"
SHA = "3f2c1d9a0b1c" + "0" * 28
IMAGE = f"registry.fly.io/{STAGING}:git-{SHA}"
DIGEST = "sha256:" + "d" * 64


def test_a_tested_build_is_found_by_digest_or_tag_and_the_newest_record_wins(
    tmp_path: Path,
) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    built = Build(
        image=IMAGE,
        digest=DIGEST,
        commit=SHA,
        ref="main",
        subject="Fix the login redirect",
        tests="tests passed (2 commands)",
        tests_passed=True,
    )
    log.append(actor="Alice", action="deploy.started", target=STAGING, detail={"commit": SHA})
    log.append(actor="Alice", action="deploy.completed", target=STAGING,
               detail={**built.audit_detail(), "version": 4})  # fmt: skip
    log.append(actor="Bob", action="deploy.completed", target="hotdash-production",
               detail={"image": IMAGE, "digest": DIGEST})  # fmt: skip

    by_digest = find_build(log.records(), STAGING, f"registry.fly.io/{STAGING}@{DIGEST}")
    assert by_digest is not None and by_digest.tested
    assert (by_digest.commit, by_digest.deployed_by) == (SHA, "Alice")
    assert by_digest.describe() == (
        "commit 3f2c1d9a0b1c (main: Fix the login redirect); tests passed (2 commands)"
    )
    assert find_build(log.records(), STAGING, IMAGE) == by_digest
    assert find_build(log.records(), STAGING, "registry.fly.io/other:1") is None

    # The same tag deployed later as an untested image: the newest record wins.
    log.append(actor="Carol", action="deploy.completed", target=STAGING,
               detail=Build(image=IMAGE, untested_reason="hand-built hotfix").audit_detail())  # fmt: skip
    later = find_build(log.records(), STAGING, IMAGE)
    assert later is not None and not later.tested and later.commit is None
    assert later.describe() == "untested: deployed to staging as a bare image: hand-built hotfix"


def test_failed_tests_or_a_record_without_a_commit_are_not_tested(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(actor="Alice", action="deploy.completed", target=STAGING,
               detail={"image": IMAGE, "strategy": "rolling", "version": 3})  # fmt: skip
    old = find_build(log.records(), STAGING, IMAGE)
    assert old is not None and not old.tested
    failed = Build(image=IMAGE, commit=SHA, tests="tests failed", tests_passed=False)
    assert not failed.tested and "tests failed" in failed.describe()
