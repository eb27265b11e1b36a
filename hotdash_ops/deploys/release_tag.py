"""Release tags `vYYYY.MM.DD<letter>` (runbook: `git tag -a v$(date +%Y.%m.%d)a`).

The letter counts the day's production releases: `a` first, then `b`, ... `z`. Existing tags
come from wherever releases were recorded (the audit log, the git repository); anything that
is not a release tag is ignored.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from datetime import date

from hotdash_ops.validation import release_tag as validate_release_tag


def day_prefix(day: date) -> str:
    """`v2025.10.14` for 14 October 2025."""
    return f"v{day:%Y.%m.%d}"


def next_release_tag(existing: Iterable[str], day: date) -> str:
    """The first free tag of `day`: `v2025.10.14a`, or `...b` when `a` is taken, ..."""
    taken = {t.strip() for t in existing}
    prefix = day_prefix(day)
    for letter in string.ascii_lowercase:
        if prefix + letter not in taken:
            return prefix + letter
    raise ValueError(f"release_tag: every tag of {day.isoformat()} is taken ({prefix}a-z)")


def check_release_tag(tag: str, existing: Iterable[str]) -> str:
    """A given tag: well formed (real date, one letter) and not used before."""
    validate_release_tag(tag)
    if tag in {t.strip() for t in existing}:
        raise ValueError(f"release_tag: {tag} already exists; choose another letter or omit it")
    return tag
