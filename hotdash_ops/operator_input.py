"""Free text people type into run forms: who asks, who decides, and why. Trimmed, bounded, one
line (it lands in the audit log, events, notifications and Markdown tables).

"One line" means no control characters (C0, DEL, C1), no Unicode line or paragraph separators
(a viewer breaks the line there: a forged second line in a notification), and no bidi
embedding/override/isolate controls (text that displays in another order than it is stored:
"Trojan Source"). Other Unicode (accents, scripts, emoji, zero-width joiners in names) is fine.

Flow parameters use an `AfterValidator` (its message says the rule in words). Pause forms
(`RunInput`) also carry the rule as a JSON-schema `pattern`, because the server checks a
resume input against the schema and refuses it before the paused run ever sees it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

# Not allowed in one line of free text (see the module docstring).
_NOT_ONE_LINE = frozenset(
    [chr(c) for c in range(0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + list("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
# The same rule for JSON schema (server-side and UI form validation of pause inputs).
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"


def one_line_or_empty(value: str) -> str:
    """`value` trimmed; ValueError naming the rule when it is not one line."""
    value = value.strip()
    if any(c in _NOT_ONE_LINE for c in value):
        raise ValueError(
            "must be one line without control characters, line separators or "
            "text-direction overrides"
        )
    return value


def _one_line(value: str) -> str:
    value = one_line_or_empty(value)
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
# For forms: a person's name (an approver, who decides, who confirms). Typed, not proven:
# Prefect open source has no per-user identity (README, "What the auth string protects").
PersonName = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=ONE_LINE_PATTERN),
    AfterValidator(_one_line),
]
# For forms: an optional note; empty is fine.
Comment = Annotated[
    str,
    Field(max_length=500, pattern=ONE_LINE_PATTERN),
    AfterValidator(one_line_or_empty),
]


MIN_JUSTIFICATION = 10  # characters: "hotfix" alone does not say why


def _justification(value: str | None) -> str | None:
    reason = one_line_or_empty(value or "") or None
    if reason is not None and len(reason) < MIN_JUSTIFICATION:
        raise ValueError(f"say why (at least {MIN_JUSTIFICATION} characters)")
    return reason


# Why a person passes a safeguard (an untested image, a blocking parity difference): optional,
# one line, long enough to say something; it lands in the audit log, records and forms.
Justification = Annotated[
    str | None,
    Field(max_length=500),
    AfterValidator(_justification),
]

# Text to look for (a log filter): one line, bounded, never blank.
SearchText = Annotated[
    str,
    Field(min_length=1, max_length=200, description="Only lines containing this (any case)"),
    AfterValidator(_one_line),
]
