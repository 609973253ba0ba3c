"""The :class:`~services.notifications.service_layer.ports.Messages` port: the Danish texts
(:mod:`.texts`) and the iCalendar objects (:mod:`.calendar`)."""

from __future__ import annotations

from datetime import datetime

from services.notifications.adapters.calendar import calendar_object
from services.notifications.adapters.texts import render
from services.notifications.domain.model import CalendarAction, Meeting, NotificationIntent, Person
from services.notifications.service_layer.ports import RenderedText


class DanishMessages:
    def text(self, intent: NotificationIntent) -> RenderedText:
        return render(intent)

    def calendar(
        self,
        action: CalendarAction,
        meeting: Meeting,
        attendee: Person,
        organiser: Person,
        stamp: datetime,
    ) -> bytes:
        return calendar_object(action, meeting, attendee, organiser, stamp)
