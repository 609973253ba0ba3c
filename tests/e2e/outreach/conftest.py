"""The whole system as processes (``system``) and its in-process SMTP sink (``smtp_sink``)."""

from tests.support.notifications_smtp_sink import smtp_sink
from tests.support.system import system

__all__ = ["smtp_sink", "system"]
