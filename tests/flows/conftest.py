"""Fixtures shared by the flow tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webhook_receiver import Receiver, alerts_block


@pytest.fixture
def receiver(prefect_server: str) -> Iterator[Receiver]:
    """A real local webhook receiver behind the `hotdash-alerts` notification block."""
    with Receiver() as rx, alerts_block(rx):
        yield rx
