"""The end-to-end tier: every test here is marked `e2e` (tests/conftest.py). The session's
shared `make demo` stack and each test's own worker on it: tests/e2e/demo_stack.py; a person in
the Prefect UI (Chromium): tests/e2e/browser.py."""

from tests.e2e.browser import chromium  # noqa: F401 (fixture)
from tests.e2e.demo_stack import e2e, e2e_stack  # noqa: F401 (fixtures)
