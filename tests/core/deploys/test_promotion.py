"""What production gets from staging (hotdash_ops.deploys.promotion)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotdash_ops.deploys.promotion import NotReady, check_staging_release, choose_image
from hotdash_ops.models import AppStatus, Release

TAG = "registry.fly.io/hotdash-staging:deployment-01J9FJ0E00H4QX4FR84G98PBSK"
DIGEST = "sha256:" + "ab" * 32


def release(version: int, status: str = "complete", image: str = TAG) -> Release:
    return Release.model_validate(
        {
            "ID": f"r{version}",
            "Version": version,
            "Status": status,
            "CreatedAt": datetime(2025, 10, version, tzinfo=UTC),
            "ImageRef": image,
        }
    )


def machine(digest: str | None = DIGEST, state: str = "started", image: str = TAG) -> dict:
    ref = {"registry": "registry.fly.io", "repository": "hotdash-staging", "tag": "x"}
    return {
        "id": f"m{abs(hash((digest, state, image))) % 10**8}",
        "state": state,
        "region": "ord",
        "config": {"image": image},
        "image_ref": {**ref, "digest": digest} if digest else ref,
    }


def status(*machines: dict) -> AppStatus:
    return AppStatus.model_validate({"Name": "hotdash-staging", "Machines": list(machines)})


def test_staging_must_have_completed_its_latest_deploy() -> None:
    assert check_staging_release("hotdash-staging", [release(2), release(3)]).version == 3
    with pytest.raises(NotReady, match="latest release v4 is failed; a successful staging"):
        check_staging_release("hotdash-staging", [release(3), release(4, "failed")])
    with pytest.raises(NotReady, match="hotdash-staging has no releases"):
        check_staging_release("hotdash-staging", [])


def test_promotes_what_staging_runs_pinned_by_digest() -> None:
    chosen = choose_image(release(3), status(machine(), machine(state="stopped", digest=None)))
    assert chosen.image == f"registry.fly.io/hotdash-staging@{DIGEST}"
    assert chosen.staging_image == TAG and chosen.staging_version == 3
    assert chosen.note == f"staging's v3 ({TAG}), pinned by digest"


def test_without_a_digest_the_release_tag_is_used() -> None:
    chosen = choose_image(release(3), status(machine(digest=None)))
    assert chosen.image == TAG and "by tag (no digest reported)" in chosen.note


def test_machines_on_different_images_promote_nothing() -> None:
    other = "sha256:" + "cd" * 32
    with pytest.raises(NotReady, match="machines run different images"):
        choose_image(release(3), status(machine(), machine(digest=other, image=TAG + "x")))


def test_an_explicit_image_says_whether_staging_tested_it() -> None:
    same = choose_image(release(3), status(machine()), requested=TAG)
    assert same.image == TAG and same.note == "the image staging runs and was smoke-tested with"
    other = choose_image(release(3), status(machine()), requested="registry.fly.io/x:y")
    assert other.image == "registry.fly.io/x:y"
    assert other.note.startswith("given explicitly; staging runs registry.fly.io/hotdash-staging@")
