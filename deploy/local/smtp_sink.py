"""Local SMTP sink for development and tests (started by deploy/local/stack.sh).

Accepts mail on 127.0.0.1 and stores every message in a Maildir (default var/mail/new/),
with the SMTP envelope added on top as headers, one per recipient, so tests can match:

    X-Envelope-From: <sender>
    X-Envelope-To: <recipient>        (repeated for each RCPT)

Read it with ``mailbox.Maildir("var/mail")``.

Fault switches for tests:
  * while the file ``<maildir>/.refuse`` exists, every RCPT gets
    ``451 4.3.0 temporarily refusing (test)``;
  * a recipient whose local part starts with ``reject-`` gets ``550 5.1.1 mailbox unavailable``.

AUTH is offered and any credentials are accepted (no TLS), so a service configured with a
user name and password works against the sink unchanged.

The log (stderr) never contains addresses or message content: only counts, sizes and
Maildir keys.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import mailbox
import signal
import sys
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

log = logging.getLogger("smtp_sink")

REFUSE = "451 4.3.0 temporarily refusing (test)"
REJECT = "550 5.1.1 mailbox unavailable"


def _header_value(address: str) -> bytes:
    # Envelope addresses cannot contain CR/LF (aiosmtpd parses them), but be strict anyway.
    return address.replace("\r", "").replace("\n", "").encode("utf-8")


class MaildirHandler:
    def __init__(self, maildir: Path) -> None:
        self.path = maildir
        # Maildir(create=True) only creates tmp/new/cur when the folder itself is missing.
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        self.mailbox = mailbox.Maildir(str(maildir), create=False)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if (self.path / ".refuse").exists():
            log.info("RCPT refused (451): %s exists", self.path / ".refuse")
            return REFUSE
        local_part = address.rsplit("@", 1)[0]
        if local_part.lower().startswith("reject-"):
            log.info("RCPT rejected (550): reject- recipient")
            return REJECT
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        headers = [b"X-Envelope-From: " + _header_value(envelope.mail_from or "")]
        headers += [b"X-Envelope-To: " + _header_value(rcpt) for rcpt in envelope.rcpt_tos]
        # Maildir files on Unix use LF line endings; SMTP DATA arrives with CRLF.
        raw = b"\n".join(headers) + b"\n" + content.replace(b"\r\n", b"\n")
        key = await asyncio.to_thread(self.mailbox.add, raw)
        log.info(
            "stored message %s (%d recipients, %d bytes)", key, len(envelope.rcpt_tos), len(raw)
        )
        return f"250 2.0.0 OK queued as {key}"


def accept_any_auth(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
) -> AuthResult:
    return AuthResult(success=True)


async def serve(host: str, port: int, maildir: Path) -> None:
    handler = MaildirHandler(maildir)
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return SMTP(
            handler,
            hostname="smtp-sink.local",
            enable_SMTPUTF8=True,
            authenticator=accept_any_auth,
            auth_require_tls=False,
        )

    server = await loop.create_server(factory, host=host, port=port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("listening on %s:%d, maildir %s", host, port, maildir)
    async with server:
        await stop.wait()
    log.info("stopped")


def main() -> int:
    parser = argparse.ArgumentParser(description="Local SMTP sink writing a Maildir.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--maildir", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiosmtpd logs every command line (addresses included) at INFO: keep it to warnings.
    aiosmtpd_log = logging.getLogger("mail.log")
    aiosmtpd_log.setLevel(logging.WARNING)
    # aiosmtpd 1.4 warns about its own deprecated attribute on every successful AUTH.
    aiosmtpd_log.addFilter(lambda record: "login_data is deprecated" not in record.getMessage())
    try:
        asyncio.run(serve(args.host, args.port, args.maildir.resolve()))
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
