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


class DeployRecord(BaseModel):
    """The steps of one run and its outcome."""

    title: str
    facts: dict[str, str] = Field(default_factory=dict)  # app, image, requested by, reason
    steps: list[DeployStep] = Field(default_factory=list)
    outcome: str = ""

    def add(self, step: str, result: StepResult, detail: str) -> None:
        """Record a step."""
        self.steps.append(DeployStep(step=step, result=result, detail=detail))

    def markdown(self) -> str:
        """Title, outcome, facts, then one table row per step."""
        lines = [f"# {self.title}", ""]
        if self.outcome:
            lines += [f"**{self.outcome}**", ""]
        lines += [f"- {k}: `{v}`" for k, v in self.facts.items()]
        lines += ["", "| step | result | detail |", "| --- | --- | --- |"]
        for s in self.steps:
            cells = [s.step, _SHOWN[s.result], s.detail]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines) + "\n"
