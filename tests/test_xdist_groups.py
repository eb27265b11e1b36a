"""make test hands whole groups to its xdist workers (tests/conftest.py): if the grouping
silently stopped (as pytest-xdist's loadgroup does on pytest 9.2, pytest-dev/pytest-xdist#1386),
module fixtures such as a whole stack would be made once per worker and the suite would slow
down with nothing failing. This test fails instead."""

import os

import pytest


def test_this_test_carries_its_module_group_to_the_xdist_scheduler(
    request: pytest.FixtureRequest,
) -> None:
    groups = [mark.args[0] for mark in request.node.iter_markers("xdist_group")]
    assert groups == ["tests/test_xdist_groups.py"]
    if os.environ.get("PYTEST_XDIST_WORKER") and getattr(request.config.option, "loadgroup", False):
        # xdist tells the scheduler the group through the node id.
        assert request.node.nodeid.endswith("@tests/test_xdist_groups.py"), request.node.nodeid
