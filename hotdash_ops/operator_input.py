"""Free text people type into run forms: who asks, and why. Trimmed, non-empty, bounded, one
line (it lands in the audit log, events and notifications)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field


def _one_line(value: str) -> str:
    value = value.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must be one line without control characters")
    if not value:
        raise ValueError("must not be empty")
    return value


Requester = Annotated[
    str,
    Field(min_length=1, max_length=100, description="Who asks for this (name or e-mail)"),
    AfterValidator(_one_line),
]
Reason = Annotated[
    str,
    Field(min_length=1, max_length=500, description="Why (lands in the audit log)"),
    AfterValidator(_one_line),
]
