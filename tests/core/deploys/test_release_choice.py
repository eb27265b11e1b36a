"""Rollback target choice (runbook Rollback; docs/fly.md, "Rollback"): pure, no Prefect."""

from __future__ import annotations

import pytest

from hotdash_ops.audit import AuditRecord
from hotdash_ops.deploys.release_choice import (
    RollbackOutcome,
    images_rolled_back_from,
    rollback_target,
    running_release,
    running_version,
)
from hotdash_ops.models import AppStatus, Release


def rel(version: int, status: str = "complete") -> Release:
    """A `fly releases --json` element, as flyctl prints it."""
    return Release.model_validate(
        {
            "ID": f"r{version}",
            "Version": version,
            "Status": status,
            "CreatedAt": f"2025-10-{version:02d}T12:00:00Z",
            "ImageRef": f"registry.fly.io/app:deployment-{version}",
            "User": {"Email": "ops@example.com", "Name": "ops"},
        }
    )


def status(version: int, machine_versions: list[int] | None = None) -> AppStatus:
    machines = [
        {
            "id": f"m{i}",
            "state": "started",
            "region": "ord",
            "config": {
                "image": f"registry.fly.io/app:deployment-{v}",
                "metadata": {"fly_release_version": str(v), "fly_process_group": "app"},
            },
        }
        for i, v in enumerate(machine_versions or [])
    ]
    return AppStatus.model_validate({"Name": "app", "Version": version, "Machines": machines})


A, B, C_FAILED = rel(1), rel(2), rel(3, "failed")


def newest_first(*releases: Release) -> list[Release]:
    # `fly releases` lists newest first: the order that makes "the second row" tempting.
    return sorted(releases, key=lambda r: r.version, reverse=True)


def test_failed_release_running_goes_to_the_newest_complete_below_it() -> None:
    target = rollback_target(newest_first(A, B, C_FAILED), current_version=3)
    assert target.version == 2


def test_complete_b_running_goes_to_a() -> None:
    target = rollback_target(newest_first(A, B), current_version=2)
    assert target.version == 1
    assert target.image_ref == "registry.fly.io/app:deployment-1"


def test_after_a_failed_deploy_that_did_not_replace_machines_it_is_not_the_second_row() -> None:
    # v3 failed and the machines still run v2: the second row (v2) is what runs now.
    releases = newest_first(A, B, C_FAILED)
    current = running_version(releases, status(2, machine_versions=[2, 2]))
    assert current == 2
    assert rollback_target(releases, current_version=current).version == 1
    assert releases[1].version == 2  # the second row, which must not be chosen


def test_never_the_failed_release_even_below_the_running_one() -> None:
    # production's history in the scenario: v3 failed, v4 runs -> v2.
    releases = newest_first(rel(1), rel(2), rel(3, "failed"), rel(4))
    assert rollback_target(releases, current_version=4).version == 2


def test_interrupted_and_in_progress_releases_are_skipped() -> None:
    releases = newest_first(rel(1), rel(2, "interrupted"), rel(3, "running"), rel(4))
    assert rollback_target(releases, current_version=4).version == 1


def test_default_current_is_the_newest_complete_release() -> None:
    assert rollback_target(newest_first(A, B, C_FAILED)).version == 1


def test_no_complete_release_older_names_the_running_version() -> None:
    with pytest.raises(ValueError, match=r"^no complete release older than v1$"):
        rollback_target([rel(1)], current_version=1)
    with pytest.raises(ValueError, match=r"^no complete release older than v3$"):
        rollback_target(newest_first(rel(1, "failed"), rel(2, "failed"), rel(3)), current_version=3)


def test_target_version_must_be_complete() -> None:
    with pytest.raises(ValueError, match=r"target_version: v3 is failed; .* must be a complete"):
        rollback_target(newest_first(A, B, C_FAILED, rel(4)), current_version=4, target_version=3)


def test_target_version_must_be_older_than_the_running_one() -> None:
    with pytest.raises(ValueError, match=r"target_version: v2 is not older than the running v2"):
        rollback_target(newest_first(A, B), current_version=2, target_version=2)


def test_target_version_must_exist() -> None:
    with pytest.raises(ValueError, match=r"target_version: there is no release v9"):
        rollback_target(newest_first(A, B), current_version=2, target_version=9)


def test_valid_target_version_is_honoured_even_when_not_the_newest() -> None:
    releases = newest_first(rel(1), rel(2), rel(3), rel(4))
    assert rollback_target(releases, current_version=4, target_version=2).version == 2


def test_running_version_prefers_machines_then_status_then_newest_complete() -> None:
    releases = newest_first(A, B, C_FAILED)
    # a rolling deploy of v3 stopped half way: v3 is live on one machine
    assert running_version(releases, status(2, machine_versions=[2, 3])) == 3
    assert running_version(releases, status(2)) == 2
    assert running_version(releases, AppStatus.model_validate({"Name": "app", "Version": 0})) == 2
    assert running_version(releases, None) == 2
    assert running_version([rel(1, "failed")], None) is None


def test_running_release_returns_the_release_and_refuses_unknown_ones() -> None:
    releases = newest_first(A, B, C_FAILED)
    assert running_release(releases, status(3, machine_versions=[3])) == C_FAILED
    with pytest.raises(ValueError, match=r"running release: v7 is not in the release history"):
        running_release(releases, status(7))
    with pytest.raises(ValueError, match=r"running release: the app has no complete release"):
        running_release([], None)


def test_outcome_describes_from_and_to() -> None:
    outcome = RollbackOutcome(app="app", from_version=3, to_version=2, image="img:2")
    assert outcome.describe() == "rolled back app from v3 to v2 (img:2)"


def image(version: int) -> str:
    return f"registry.fly.io/app:deployment-{version}"


def redeploy(version: int, of: int) -> Release:
    """Release `version` made by a rollback: it runs the image of release `of`."""
    return rel(version).model_copy(update={"image_ref": image(of)})


def test_second_rollback_skips_the_release_the_first_one_left() -> None:
    # v3 good, v4 good, v5 bad -> rollback to v4 made v6 (v4's image). Rolling back again must
    # go to v3: not v5 (the bad image), not v4 (the image running now).
    releases = newest_first(rel(3), rel(4), rel(5), redeploy(6, of=4))
    assert rollback_target(releases, current_version=6).version == 5  # the naive rule
    target = rollback_target(
        releases, current_version=6, current_image=image(4), bad_images={image(5)}
    )
    assert target.version == 3


def test_when_every_older_image_is_skipped_the_choice_is_refused() -> None:
    releases = newest_first(rel(4), rel(5), redeploy(6, of=4))
    with pytest.raises(ValueError, match="other than the running image"):
        rollback_target(releases, current_version=6, current_image=image(4), bad_images={image(5)})


def test_an_explicit_target_may_name_an_image_a_rollback_left() -> None:
    releases = newest_first(rel(3), rel(4), rel(5), redeploy(6, of=4))
    target = rollback_target(
        releases, current_version=6, target_version=5, current_image=image(4),
        bad_images={image(5)},
    )  # fmt: skip
    assert target.version == 5


def test_images_rolled_back_from_reads_only_this_apps_rollbacks() -> None:
    def record(action: str, target: str, from_image: str | None) -> AuditRecord:
        return AuditRecord(
            seq=1, ts="2026-11-27T00:00:00Z", actor="sam", action=action, target=target,
            detail={"from_image": from_image}, prev_hash="0",
        )  # fmt: skip

    records = [
        record("rollback", "app", image(5)),
        record("rollback.started", "app", image(7)),  # started is not done
        record("rollback", "other-app", image(8)),
        record("rollback", "app", None),
    ]
    assert images_rolled_back_from(records, "app") == {image(5)}
