"""Counted nouns in text people read: "1 dependency", "2 dependencies", never "1 dependencies"."""

from __future__ import annotations


def counted(n: int, one: str, many: str | None = None) -> str:
    """`n` and the noun, singular for exactly one (`many` defaults to `one` + "s")."""
    return f"{n} {one if n == 1 else (many or one + 's')}"
