"""What a deploy or rollback run did, step by step: the summary artifact a person reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

StepResult = Literal["ok", "failed", "skipped", "info"]
_SHOWN = {"ok": "ok", "failed": "**FAILED**", "skipped": "skipped", "info": "info"}


class DeployStep(BaseModel):
    """One runbook step and how it went."""

    step: str
    result: StepResult
    detail: str


class Output(BaseModel):
    """Lines a person needs to see as they were printed (e.g. a failed test's last lines)."""

    title: str
    lines: list[str]


class DeployRecord(BaseModel):
    """The steps of one run and its outcome."""

    title: str
    facts: dict[str, str] = Field(default_factory=dict)  # app, image, requested by, reason
    steps: list[DeployStep] = Field(default_factory=list)
    outputs: list[Output] = Field(default_factory=list)
    outcome: str = ""

    def add(self, step: str, result: StepResult, detail: str) -> None:
        """Record a step."""
        self.steps.append(DeployStep(step=step, result=result, detail=detail))

    def attach(self, title: str, lines: list[str]) -> None:
        """Keep output lines (already redacted) under the steps table."""
        self.outputs.append(Output(title=title, lines=lines))

    def markdown(self) -> str:
        """Title, outcome, facts, one table row per step, then the attached outputs."""
        lines = [f"# {self.title}", ""]
        if self.outcome:
            lines += [f"**{self.outcome}**", ""]
        lines += [f"- {k}: `{v}`" for k, v in self.facts.items()]
        lines += ["", "| step | result | detail |", "| --- | --- | --- |"]
        for s in self.steps:
            cells = [s.step, _SHOWN[s.result], s.detail]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        for out in self.outputs:
            # A fence longer than any backtick run inside keeps the output a code block.
            fence = "`" * max(3, 1 + max((_run_of_backticks(x) for x in out.lines), default=0))
            lines += ["", f"### {out.title}", "", fence, *out.lines, fence]
        return "\n".join(lines) + "\n"


def _run_of_backticks(line: str) -> int:
    longest = run = 0
    for c in line:
        run = run + 1 if c == "`" else 0
        longest = max(longest, run)
    return longest
