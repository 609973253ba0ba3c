"""The shared event-sourcing kernel: event store, outbox relay, subscriber runtime, logging.

It knows nothing of municipalities, meetings or mails; the three services build on it.
"""
