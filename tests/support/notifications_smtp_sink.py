"""An in-process SMTP sink for the notifications tests: real SMTP, messages kept in memory.

It runs on the test's event loop on a free port of 127.0.0.1, so tests read what arrived
without the shared sink of the local stack. Fault switches:

* ``refuse_next_rcpts = n``: the next ``n`` RCPT commands get ``451 4.3.0`` (temporary);
* a recipient whose local part starts with ``busy-`` gets ``451 4.3.0`` (temporary);
* a recipient whose local part starts with ``reject-``, or who is in ``reject``, gets
  ``550 5.1.1`` (permanent), in Postfix's words: the answer names the address;
* ``close_on_next_mails = n``: the next ``n`` MAIL commands get ``421 4.4.2`` and the
  connection is closed (a server that timed the idle connection out just now);
* :meth:`SmtpSink.drop_connections` closes every open connection (a server restart).

Every RCPT is counted in ``rcpt_attempts`` (address -> count), accepted or not, and every
connection in ``connections``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

REFUSE = "451 4.3.0 temporarily refusing (test)"
REJECT = "550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
"""Postfix's answer to an unknown mailbox (``{address}``: the refused address)."""
CLOSING = "421 4.4.2 closing the idle connection (test)"


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


@dataclass
class SmtpSink:
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[ReceivedMail] = field(default_factory=list)
    rcpt_attempts: Counter[str] = field(default_factory=Counter)
    refuse_next_rcpts: int = 0
    reject: set[str] = field(default_factory=set)
    """Addresses refused for good (besides ``reject-...``), compared in lower case."""
    close_on_next_mails: int = 0
    connections: int = 0
    sessions: list[SMTP] = field(default_factory=list)

    def session(self) -> SMTP:
        """A new server-side SMTP session (one per connection)."""
        self.connections += 1
        server = SMTP(self, hostname="sink.test", enable_SMTPUTF8=True)
        self.sessions.append(server)
        return server

    def drop_connections(self) -> int:
        """Close every open connection from the server's side; how many were open."""
        dropped = 0
        for server in self.sessions:
            if server.transport is not None and not server.transport.is_closing():
                server.transport.close()
                dropped += 1
        return dropped

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.close_on_next_mails > 0:
            self.close_on_next_mails -= 1
            assert server.transport is not None
            server.transport.close()
            return CLOSING
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.messages if address in m.rcpt_tos]

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        self.rcpt_attempts[address] += 1
        if self.refuse_next_rcpts > 0:
            self.refuse_next_rcpts -= 1
            return REFUSE
        local_part = address.rsplit("@", 1)[0].lower()
        if local_part.startswith("busy-"):
            return REFUSE
        if local_part.startswith("reject-") or address.lower() in self.reject:
            return REJECT.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        self.messages.append(
            ReceivedMail(envelope.mail_from or "", tuple(envelope.rcpt_tos), content)
        )
        return "250 2.0.0 OK"


@pytest.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    """A fresh sink on a free port, for one test."""
    sink = SmtpSink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(sink.session, host=sink.host, port=0)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()
