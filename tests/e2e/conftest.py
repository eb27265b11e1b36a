"""The end-to-end tier: every test here is marked `e2e` (tests/conftest.py). The session's
shared `make demo` stack and each test's own worker on it: tests/e2e/demo_stack.py."""

from tests.e2e.demo_stack import e2e, e2e_stack  # noqa: F401 (fixtures)
