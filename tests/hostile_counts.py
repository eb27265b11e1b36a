"""How many hostile inputs the security suite tried, per flow: counted where the tests run,
gathered from every xdist worker, printed at the end and written to a JSON file."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

COUNTS: dict[str, Counter[str]] = {}


def count(flow: str, what: str, n: int = 1) -> None:
    COUNTS.setdefault(flow, Counter())[what] += n


def merge(report: dict[str, dict[str, int]]) -> None:
    """Add a worker's counts (as `as_report` gives them) to this process's."""
    for flow, counts in report.items():
        COUNTS.setdefault(flow, Counter()).update(counts)


def as_report() -> dict[str, dict[str, int]]:
    return {flow: dict(sorted(c.items())) for flow, c in sorted(COUNTS.items())}


def report_path() -> Path:
    """$HOTDASH_SECURITY_REPORT, else .state/security/hostile-inputs.json in the checkout."""
    from tests.conftest import ROOT

    default = ROOT / ".state" / "security" / "hostile-inputs.json"
    return Path(os.environ.get("HOTDASH_SECURITY_REPORT") or default)


def write_and_print(terminalreporter: Any) -> None:
    """Print the counts (always, not only with -s) and write them to the report file."""
    if not COUNTS:
        return
    report = as_report()
    path = report_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    terminalreporter.section("hostile inputs tried")
    for flow, c in report.items():
        terminalreporter.line(f"{flow:38} " + ", ".join(f"{k}={v}" for k, v in c.items()))
    terminalreporter.line(f"(written to {path})")
