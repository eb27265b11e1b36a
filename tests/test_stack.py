"""How deployments/stack.py (`make demo`) starts its children; no server needed."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SCENARIO
from tests.e2e.demo_stack import stack_module

ASK = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"


@pytest.fixture
def sigint_ignored() -> Iterator[None]:
    """This process as a script's `&` leaves it: SIGINT ignored (children inherit it)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_child_of_a_stack_started_with_sigint_ignored_can_be_interrupted(
    tmp_path: Path, sigint_ignored: None
) -> None:
    # Prefect's worker stops on SIGTERM by sending itself SIGINT: inherited as ignored, it would
    # never stop (docs/prefect.md, "Known Prefect issues").
    module = stack_module()
    config = module.StackConfig(
        prefect_port=1, flysim_port=2, scenario=SCENARIO, state_dir=tmp_path / "state"
    )
    stack = module.Stack(config)
    proc = stack.spawn("probe", [sys.executable, "-c", ASK])
    assert proc.wait(timeout=30) == 0
    assert (tmp_path / "state" / "logs" / "probe.log").read_text().strip() == "True"
