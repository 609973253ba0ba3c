"""The notifications service: tells participants, contacts and KL's organiser what happened.

It consumes membership and meeting events, keeps its own view of meetings and
registrations, decides who is told what (``domain/``), queues e-mails with calendar
invitations in an outbox-like ``deliveries`` table, and sends them over SMTP with retries.
"""
