"""End-to-end tests: the real processes (see stack.py) and a Stripe stand-in."""

import pytest

from tests.e2e.stack import product_stack, report_child_logs, stack, stripe_connection

__all__ = ["product_stack", "stack", "stripe_connection"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report_child_logs(item, outcome.get_result())
