"""The :class:`~services.notifications.service_layer.ports.Messages` port: the Danish texts
(:mod:`.texts`) and the iCalendar objects (:mod:`.calendar`)."""

from __future__ import annotations

from services.notifications.adapters.calendar import calendar_object
from services.notifications.adapters.texts import render


class DanishMessages:
    text = staticmethod(render)
    calendar = staticmethod(calendar_object)
