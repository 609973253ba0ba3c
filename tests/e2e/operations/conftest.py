"""The whole system as processes (``system``) and its in-process SMTP sink (``smtp_sink``)."""

import pytest

# The harness holds most of the assertions: let pytest explain them when they fail.
pytest.register_assert_rewrite("tests.e2e.operations.harness")

from tests.support.notifications_smtp_sink import smtp_sink  # noqa: E402
from tests.support.system import system  # noqa: E402

__all__ = ["smtp_sink", "system"]
