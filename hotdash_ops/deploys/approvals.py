"""The production approval gates. Their pause keys and form fields are a contract (people
approve through them, README "deploy-production"; tests drive them).

`deploy-production` asks twice, manager then reliability. Each ask is one pause key
(`manager-approval`, then `manager-approval-2`, `-3`... after a refused input, because
Prefect answers a used key with its old input) and one form with exactly the fields
`approver`, `approve`, `comment`.

The rules, in the order they are applied to an answer:

1. it arrived after the deadline: the deploy is rejected (approval timed out);
2. no approver name: refused, ask again;
3. the requester: refused (nobody approves their own deploy), ask again;
4. the inventory lists approvers for the gate's role and the name is not among them:
   refused, ask again;
5. the person who already approved the other gate: refused (two different people), ask again;
6. `approve: false` without a reason in `comment`: refused, ask again (a switch left off by
   mistake must not reject a deploy; a real rejection says why);
7. `approve: false`: the deploy is rejected;
8. otherwise: approved.

An ineligible person can neither approve nor reject (rules 2-5 come before 6). Names are
compared ignoring case and runs of spaces. A refused answer is asked again under a fresh key,
and the run's state is then named `REFUSED_STATE` so the run's header says so at once.
Plain Python: the Prefect `RunInput` form is built from `ApprovalFields` in
`tasks/approvals.py`; `form_description` is the Markdown above it (a short summary first,
the details below: Prefect's resume dialog leaves about 440 px for text).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from hotdash_ops.local_time import shown, zone_name
from hotdash_ops.operator_input import Comment, PersonName

GATES: tuple[str, ...] = ("manager", "reliability")
MAX_ATTEMPTS = 20  # refused inputs per gate before the deploy is rejected (a runaway guard)
# The run's state while a gate asks again after a refused answer (a Prefect state name: the
# run's header and the runs list show it).
REFUSED_STATE = "Refused: ask again"


class ApprovalFields(BaseModel):
    """The approval form (the contract: these three fields, these names and types)."""

    # Typed so that the server refuses a blank, overlong or multi-line name before the run
    # sees it (the types are still `str` in the contract; rule 2 stays for direct callers).
    approver: PersonName = Field(
        description="Your name. The requester may not approve; the two gates need two people."
    )
    approve: bool = Field(
        default=False,
        description=(
            "On: approve; the deploy goes on (to the next gate, then production). "
            "Off: reject; nothing is deployed and the run ends (say why in comment)."
        ),
    )
    comment: Comment = Field(
        default="",
        description="Why. Required to reject (a rejection without it is asked again); audited.",
    )


class Verdict(StrEnum):
    """What one answer at a gate does."""

    APPROVED = "approved"
    REJECTED = "rejected"  # approve: false from an eligible approver: the deploy stops
    REFUSED = "refused"  # the input does not count; the gate asks again
    TIMED_OUT = "timed_out"  # no decision before the deadline: the deploy stops


class Decision(BaseModel):
    """One answer at one pause key, judged."""

    gate: str
    key: str
    verdict: Verdict
    approver: str = ""
    comment: str = ""
    reason: str  # one sentence a person reads in the log, the artifact and the notification
    received_at: datetime | None = None

    @property
    def final(self) -> bool:
        """The gate is done (approved) or the deploy is over (rejected, timed out)."""
        return self.verdict is not Verdict.REFUSED


def gate_key(gate: str, attempt: int = 1) -> str:
    """`manager-approval` for the first ask, `manager-approval-2` for the second, ..."""
    if gate not in GATES:
        raise ValueError(f"gate: must be one of {', '.join(GATES)}, not {gate!r}")
    if attempt < 1:
        raise ValueError("attempt: must be at least 1")
    base = f"{gate}-approval"
    return base if attempt == 1 else f"{base}-{attempt}"


def same_person(a: str, b: str) -> bool:
    """Names compared ignoring case and spacing ("Ann  Lee" is "ann lee")."""
    return _norm(a) == _norm(b) != ""


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def _display(name: str) -> str:
    return " ".join(name.split())


def judge(
    answer: ApprovalFields,
    *,
    gate: str,
    key: str,
    requester: str,
    allowed: Sequence[str] = (),
    other_approver: str | None = None,
    received_at: datetime | None = None,
    deadline: datetime | None = None,
    tz: str = "UTC",
) -> Decision:
    """Apply the gate's rules (module docstring) to one answer (`tz`: the inventory's
    timezone, in which a deadline is said)."""
    who = _display(answer.approver)
    comment = answer.comment.strip()

    def decided(verdict: Verdict, reason: str) -> Decision:
        return Decision(
            gate=gate,
            key=key,
            verdict=verdict,
            approver=who,
            comment=comment,
            reason=reason,
            received_at=received_at,
        )

    if deadline is not None and received_at is not None and received_at >= deadline:
        late = timed_out(gate, key, deadline, received_at=received_at, tz=tz)
        return late.model_copy(update={"approver": who, "comment": comment})
    if not who:
        return decided(
            Verdict.REFUSED, f"{key}: no approver name was given; type your name in `approver`."
        )
    if same_person(who, requester):
        return decided(
            Verdict.REFUSED,
            f"{key}: {who} requested this deploy and may not approve it; "
            "another person must decide.",
        )
    if allowed and not any(same_person(who, name) for name in allowed):
        listed = ", ".join(_display(n) for n in allowed)
        return decided(
            Verdict.REFUSED, f"{key}: {who} is not a listed {gate} approver (listed: {listed})."
        )
    if other_approver and same_person(who, other_approver):
        return decided(
            Verdict.REFUSED,
            f"{key}: {who} already approved the other gate; "
            f"the {gate} approval must come from someone else.",
        )
    if not answer.approve and not comment:
        return decided(
            Verdict.REFUSED,
            f"{key}: {who} rejected without a reason; to reject, say why in `comment`; "
            "to approve, switch `approve` on.",
        )
    if not answer.approve:
        return decided(Verdict.REJECTED, f"rejected by {who} at {key} ({comment}).")
    return decided(Verdict.APPROVED, f"{gate} approval given by {who} at {key}.")


def timed_out(
    gate: str,
    key: str,
    deadline: datetime,
    *,
    received_at: datetime | None = None,
    tz: str = "UTC",
) -> Decision:
    """The deadline passed before a decision at `key`: the deploy is rejected."""
    return Decision(
        gate=gate,
        key=key,
        verdict=Verdict.TIMED_OUT,
        reason=(
            f"rejected: approval timed out: no decision at {key} before the deadline "
            f"{shown(deadline, tz)}; nothing was deployed."
        ),
        received_at=received_at,
    )


def invalid_answer(gate: str, key: str, problems: str) -> Decision:
    """An answer the form's own rules refuse after the server took it (e.g. a blank name
    passes the JSON schema, not `PersonName`): refused, the gate asks again."""
    return Decision(
        gate=gate, key=key, verdict=Verdict.REFUSED, reason=f"{key}: {problems}; answer again."
    )


def too_many_attempts(gate: str, key: str) -> Decision:
    """A gate refused MAX_ATTEMPTS inputs: stop asking (someone is scripting at it)."""
    return Decision(
        gate=gate,
        key=key,
        verdict=Verdict.REJECTED,
        reason=f"rejected: {MAX_ATTEMPTS} refused inputs at the {gate} gate; ask again later.",
    )


class ApprovalRequest(BaseModel):
    """What the approvers are asked to approve (shown above the form)."""

    app: str
    image: str
    release_tag: str
    checklist_url: str
    reason: str
    requested_by: str
    staging_smoke: str  # one line: "passed (6 endpoints)" or the failures
    parity: str  # one line, or "not checked: <why>"
    window: str  # the deploy window check's sentence
    build: str = "unknown"  # the commit and its tests' result, or "untested: ..."
    untested_image_reason: str | None = None  # given when the image is not a tested build
    critical: bool = False
    strategy: str = "rolling"  # how it is deployed (hotdash_ops.deploys.canary.DeployPlan)
    error_budget: str = "not checked"  # hotdash_ops.deploys.budget_gate's line
    deadline: datetime | None = None  # set when the gates open
    run_url: str | None = None
    timezone: str = "UTC"  # the inventory's: the deadline is shown in it


def who_may_approve(gate: str, allowed: Sequence[str]) -> str:
    """The gate's eligibility rule in one sentence (the form and the run log say it)."""
    if allowed:
        return f"only the listed {gate} approvers: {', '.join(_display(n) for n in allowed)}"
    return (
        f"any name counts: the inventory lists no {gate} approvers (approvers.{gate} is "
        "empty), so anyone but the requester can approve"
    )


def form_description(
    request: ApprovalRequest,
    *,
    gate: str,
    key: str,
    allowed: Sequence[str] = (),
    decisions: Sequence[Decision] = (),
) -> str:
    """The Markdown above the approval form: why a previous answer was refused (if one was),
    a short summary of what is approved (one short line each: Prefect's resume dialog is
    narrow), what each choice does, then the details (the full image, commit, checklist)."""
    refused = [d for d in decisions if d.gate == gate and d.verdict is Verdict.REFUSED]
    lines = [f"## {gate} approval: production deploy of `{request.app}`", ""]
    if refused:
        lines += [f"**Your answer was refused: {refused[-1].reason}** Answer again below.", ""]
    build = (
        f"**untested image**: {request.untested_image_reason}"
        if request.untested_image_reason
        else _short_build(request.build)
    )
    lines += [
        f"- **image** `{short_image(request.image)}`",
        f"- **release tag** `{request.release_tag}`",
        f"- **commit** {build}",
        f"- **requested by** {request.requested_by}",
        f"- **reason** {request.reason}",
        f"- **checklist** [{_link_text(request.checklist_url)}]({request.checklist_url})",
        f"- **staging smoke** {_without(request.staging_smoke, 'smoke test ')}",
        f"- **parity** {_without(request.parity, 'parity: ')}",
        f"- **window** {request.window}",
        f"- **strategy** {request.strategy}",
        f"- **error budget** {request.error_budget}",
        f"- **decide before** {_when(request.deadline, request.timezone)}",
        f"- **who may approve** {_who(allowed)}",
        "",
        "**approve on**: approve; the deploy goes on"
        + (" to the reliability gate." if gate == GATES[0] else " to production.")
        + " **approve off**: reject; nothing is deployed and the run ends. A rejection needs"
        " its reason in **comment** (without one it is asked again). The requester may not"
        " approve, and the two gates need two different people.",
        "",
        "### Details",
        "",
        "Image:",
        "",
        "```",
        *_image_lines(request.image),
        "```",
        "",
        f"- commit and tests: {request.build}",
        f"- checklist: <{request.checklist_url}>",
        f"- critical: {_critical(request.critical)}",
        f"- who may approve: {who_may_approve(gate, allowed)}",
        f"- times in {zone_name(request.timezone)}; pause key `{key}`",
    ]
    if decisions:
        lines += ["", "So far:"]
        lines += [f"- {' '.join(d.reason.split())}" for d in decisions]
    return "\n".join(lines)


def short_image(image: str) -> str:
    """`hotdash-staging@sha256:0123456789ab…` (the repository's last part, 12 digits of
    the digest) or `hotdash-staging:tag`: short enough for one line of the dialog."""
    name, at, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if at:
        algo, _, hexdigits = digest.partition(":")
        return f"{last}@{algo}:{hexdigits[:12]}…" if hexdigits else f"{last}@{digest}"
    return last


def _image_lines(image: str) -> list[str]:
    # The full reference, a line for the name, `@sha256:` and the 64 hex digits: each fits
    # the dialog (about 440 px of text), and the digits copy in one piece.
    name, at, digest = image.partition("@")
    algo, colon, hexdigits = digest.partition(":")
    return [name, f"@{algo}{colon}", hexdigits] if at else [image]


def _short_build(build: str) -> str:
    # "commit 3f2c1d9a0b1c (main: subject); tests passed (2 commands)" -> the commit and
    # the tests' verdict; the ref and subject are in the details.
    head, _, tests = build.partition("; ")
    commit = head.split(" (", 1)[0].removeprefix("commit ")
    return f"`{commit}`, {tests}" if tests and head.startswith("commit ") else build


def _link_text(url: str) -> str:
    host = url.split("//", 1)[-1].split("/", 1)[0]
    return f"open ({host})"


def _without(text: str, prefix: str) -> str:
    return text.removeprefix(prefix)


def _who(allowed: Sequence[str]) -> str:
    return ", ".join(_display(n) for n in allowed) if allowed else "anyone but the requester"


def _critical(critical: bool) -> str:
    if critical:
        return "yes: a risky release, deployed only in the off-hours window"
    return "no: a normal release, no deploy window (only a freeze stops it)"


def _when(deadline: datetime | None, tz: str) -> str:
    return shown(deadline, tz) if deadline else "no deadline"
