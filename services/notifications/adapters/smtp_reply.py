"""What an SMTP server's refusal may tell the rest of the system: its codes, not the address.

A server's answer usually names the address it refuses (Postfix: ``550 5.1.1
<anne@example.dk>: Recipient address rejected: User unknown``). That text becomes a
delivery's ``last_error``, the feed's ``reason`` and the ``NotificationFailed`` event, which
is kept for ever and published on Kafka, where no erasure reaches it. So the reason keeps
the reply code and the enhanced status code (RFC 3463) and the server's words with every
address, and the recipient's own address and local part, replaced by ``<address>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REDACTED = "<address>"

_ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}\b")
_ADDRESS = re.compile(
    r"""<[^<>\s]*@[^<>\s]*>           # <anne@example.dk>, <"a b"@x>, <@route:a@x>
      | [^\s<>()\[\],;:"'@]+@[^\s<>()\[\],;:"'@]+  # anne@example.dk
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class SmtpReply:
    """A refusal as the system keeps it: codes, and the words without any address."""

    code: int | None
    enhanced_status: str | None
    text: str

    @property
    def reason(self) -> str:
        """``550 5.1.1 <address>: Recipient address rejected: User unknown``."""
        return " ".join(
            part
            for part in (
                None if self.code is None else str(self.code),
                self.enhanced_status,
                self.text,
            )
            if part
        )


def redact(text: str, recipient: str | None = None) -> str:
    """``text`` with every e-mail address, and the recipient's address and local part
    wherever they stand alone, replaced by ``<address>``."""
    redacted = _ADDRESS.sub(REDACTED, text)
    if recipient:
        local = recipient.rsplit("@", 1)[0]
        for known in sorted({recipient, local}, key=len, reverse=True):
            if len(known) >= 3:
                redacted = re.sub(re.escape(known), REDACTED, redacted, flags=re.IGNORECASE)
    return redacted


def smtp_reply(code: int | None, message: str, recipient: str | None = None) -> SmtpReply:
    """The reply ``code`` and ``message`` of a server (or an error's text, code None) as
    :class:`SmtpReply`: the enhanced status taken from the start of the text, the words
    redacted. The lines of a multi-line reply are joined, each without the codes that
    servers repeat on every line (``550-5.1.1 ...``)."""
    status: str | None = None
    words: list[str] = []
    for raw in message.splitlines():
        line = raw.strip()
        if code is not None:
            line = re.sub(rf"^{code}[ -]", "", line)
        enhanced = _ENHANCED.match(line)
        if enhanced:
            status = status or enhanced.group(0)
            line = line[enhanced.end() :].lstrip()
        if line:
            words.append(line)
    return SmtpReply(code, status, redact(" ".join(words), recipient))
