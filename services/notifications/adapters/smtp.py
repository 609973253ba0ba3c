"""Sending mail over SMTP with aiosmtplib, on connections kept open and reused.

A connection is opened (EHLO, STARTTLS when offered or asked for, AUTH when configured)
once and then carries message after message: one MAIL, RCPT and DATA each, instead of a
TCP connection, greeting, EHLO and QUIT per message. At most ``connections`` are open at
once (one per concurrent sender); an idle one is handed to the next message.

A server may close a connection we keep idle (its timeout, a restart). If the first
command of a message on a reused connection finds it closed, or the server answers 421
("closing"), nothing of that message has reached the server: it is sent once more at once,
on a fresh connection. A failure during or after DATA is not retried here: the server may
have taken the message, so it is a temporary delivery error, retried later with back-off
(under the same Message-ID) as any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiosmtplib

from services.notifications.adapters.smtp_reply import SmtpReply, smtp_reply
from services.notifications.service_layer.ports import (
    DeliveryError,
    OutgoingMail,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)

_CLOSING = 421  # service not available, closing the transmission channel


class _NotStartedError(Exception):
    """The message never got to DATA because the connection was gone: safe to send again."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(error.reason)
        self.error = error


class SmtpMailer:
    """Sends :class:`OutgoingMail` over a small pool of SMTP connections."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool | None = None,
        timeout: float = 15.0,
        connections: int = 4,
        max_idle_s: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.start_tls = start_tls
        self.timeout = timeout
        self.max_idle_s = max_idle_s
        self.connections_opened = 0
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def send(self, mail: OutgoingMail) -> None:
        async with self._slots:
            smtp = await self._take_idle()
            if smtp is not None:
                try:
                    await self._deliver(smtp, mail)
                    return
                except _NotStartedError:
                    pass  # the server had closed it: once more on a fresh connection
            smtp = await self._connect()
            try:
                await self._deliver(smtp, mail)
            except _NotStartedError as exc:
                raise exc.error from exc

    async def close(self) -> None:
        """Say QUIT on every idle connection (connections in use are closed when their
        message is done and the mailer closed again, or at exit)."""
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            await _quit(smtp)

    async def _take_idle(self) -> aiosmtplib.SMTP | None:
        while self._idle:
            smtp, since = self._idle.pop()  # the most recently used: the least likely stale
            if smtp.is_connected and time.monotonic() - since < self.max_idle_s:
                return smtp
            await _quit(smtp)  # idle too long: many servers drop such connections anyway
        return None

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=self.start_tls,
            timeout=self.timeout,
        )
        try:
            await smtp.connect()
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            raise classify(smtp_reply(exc.code, exc.message)) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            smtp.close()
            raise _temporary(exc) from exc
        self.connections_opened += 1
        return smtp

    async def _deliver(self, smtp: aiosmtplib.SMTP, mail: OutgoingMail) -> None:
        """One mail transaction; the connection goes back to the idle ones if it is fit."""
        recipient = mail.rcpt_to
        utf8 = not (mail.mail_from.isascii() and recipient.isascii())
        options = ["SMTPUTF8"] if utf8 else []
        encoding = "utf-8" if utf8 else "ascii"
        try:
            try:
                if utf8 and not smtp.supports_extension("smtputf8"):
                    raise TemporaryDeliveryError("the server does not take SMTPUTF8 addresses")
                await smtp.mail(mail.mail_from, options=options, encoding=encoding)
                await smtp.rcpt(mail.rcpt_to, encoding=encoding)
            except aiosmtplib.SMTPResponseException as exc:
                refused = classify(smtp_reply(exc.code, exc.message, recipient))
                if exc.code == _CLOSING:
                    smtp.close()
                    raise _NotStartedError(refused) from exc
                raise refused from exc
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
                smtp.close()
                raise _NotStartedError(_temporary(exc, recipient)) from exc
            try:
                await smtp.data(mail.data)
            except aiosmtplib.SMTPResponseException as exc:
                raise classify(smtp_reply(exc.code, exc.message, recipient)) from exc
        except DeliveryError:
            await self._reset(smtp)
            raise
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            smtp.close()  # broken, or in an unknown state: never reused
            raise _temporary(exc, recipient) from exc
        except BaseException:
            smtp.close()  # cancelled mid-transaction: the connection's state is unknown
            raise
        self._idle.append((smtp, time.monotonic()))

    async def _reset(self, smtp: aiosmtplib.SMTP) -> None:
        """After a refusal the server is fine: RSET and keep the connection (else drop it)."""
        if not smtp.is_connected:
            return
        try:
            await smtp.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            smtp.close()
            return
        self._idle.append((smtp, time.monotonic()))


def _temporary(exc: BaseException, recipient: str | None = None) -> DeliveryError:
    """A broken connection or a timeout: try again later (no address in the reason)."""
    return TemporaryDeliveryError(
        smtp_reply(None, f"{type(exc).__name__}: {exc}", recipient).reason
    )


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    if smtp.is_connected:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await smtp.quit(timeout=2)
    smtp.close()


def classify(reply: SmtpReply, reason: str | None = None) -> DeliveryError:
    """5xx is permanent; anything else (4xx, odd codes) is worth another try. The error
    carries the reply's codes and its redacted words (``reason``: several replies')."""
    error = (
        PermanentDeliveryError
        if reply.code is not None and 500 <= reply.code < 600
        else (TemporaryDeliveryError)
    )
    return error(
        reason or reply.reason, smtp_code=reply.code, enhanced_status=reply.enhanced_status
    )
