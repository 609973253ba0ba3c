"""Use cases: apply source events, queue notifications, run reminders, deliver mail."""
