"""Settings come from NOTIFICATIONS_* variables, with durations in ISO 8601."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notifications.config import Settings


def test_the_reminder_interval_and_organiser_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOTIFICATIONS_REMINDER_BEFORE", "P3DT12H")
    monkeypatch.setenv("NOTIFICATIONS_ORGANISER_EMAIL", "knub@kl.dk")
    monkeypatch.setenv("NOTIFICATIONS_KAFKA__TOPIC_PREFIX", "demo.")
    settings = Settings()
    assert settings.reminder_before == timedelta(days=3, hours=12)
    assert settings.organiser_email == "knub@kl.dk"
    assert settings.kafka.topic("kl.events.meetings") == "demo.kl.events.meetings"


def test_the_defaults_fit_the_local_stack() -> None:
    settings = Settings()
    assert settings.reminder_before == timedelta(days=2)
    assert (settings.smtp_host, settings.smtp_port, settings.port) == ("127.0.0.1", 2525, 8003)
    assert settings.organiser_email == "netvaerk@kl.dk"
