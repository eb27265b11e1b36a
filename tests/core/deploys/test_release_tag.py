"""Release tags `vYYYY.MM.DD<letter>` (hotdash_ops.deploys.release_tag); creating and pushing
them is tests/core/deploys/test_repository.py."""

from __future__ import annotations

from datetime import date

import pytest

from hotdash_ops.deploys.release_tag import check_release_tag, next_release_tag

DAY = date(2025, 10, 14)


def test_next_free_letter_of_the_day() -> None:
    assert next_release_tag([], DAY) == "v2025.10.14a"
    assert next_release_tag(["v2025.10.14a", "v2025.10.14b"], DAY) == "v2025.10.14c"
    assert next_release_tag(["v2025.10.14b"], DAY) == "v2025.10.14a"  # first free, not last+1
    assert next_release_tag(["v2025.10.13a", "v1.2.3", "latest"], DAY) == "v2025.10.14a"
    full = [f"v2025.10.14{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
    with pytest.raises(ValueError, match=r"release_tag: every tag of 2025-10-14 is taken"):
        next_release_tag(full, DAY)


def test_a_given_tag_is_validated_and_must_be_free() -> None:
    assert check_release_tag("v2025.10.14c", ["v2025.10.14a"]) == "v2025.10.14c"
    with pytest.raises(ValueError, match="release_tag: v2025.10.14a already exists"):
        check_release_tag("v2025.10.14a", ["v2025.10.14a"])
    with pytest.raises(ValueError, match=r"release_tag: 'v2025.02.30a' has an invalid date"):
        check_release_tag("v2025.02.30a", [])
    with pytest.raises(ValueError, match=r"release_tag: 'v2025.10.14' is not a release tag"):
        check_release_tag("v2025.10.14", [])
    with pytest.raises(ValueError, match="release_tag: must not start with '-'"):
        check_release_tag("--delete", [])
