"""A mail server's refusal, as the system keeps it: its codes and words, never an address."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifications.adapters.smtp import classify
from services.notifications.adapters.smtp_reply import REDACTED, smtp_reply
from services.notifications.service_layer.ports import PermanentDeliveryError


@pytest.mark.parametrize(
    ("code", "message", "recipient", "status", "reason"),
    [
        (  # Postfix
            550,
            "5.1.1 <anne@example.dk>: Recipient address rejected: User unknown",
            "anne@example.dk",
            "5.1.1",
            "550 5.1.1 <address>: Recipient address rejected: User unknown",
        ),
        (  # Exchange
            550,
            "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient Anne.Jensen@aarhus.dk not found",
            "anne.jensen@aarhus.dk",
            "5.1.10",
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient <address> not found",
        ),
        (  # Gmail: a multi-line answer repeats its codes on every line
            550,
            "5.1.1 The email account that you tried to reach does not exist.\n"
            "5.1.1 https://support.google.com/mail/?p=NoSuchUser - gsmtp",
            "anne@gmail.com",
            "5.1.1",
            "550 5.1.1 The email account that you tried to reach does not exist. "
            "https://support.google.com/mail/?p=NoSuchUser - gsmtp",
        ),
        (  # the local part alone, and the code repeated in the text
            550,
            "550 mailbox anne.jensen unknown",
            "anne.jensen@aarhus.dk",
            None,
            "550 mailbox <address> unknown",
        ),
        (  # no server answer at all
            None,
            "SMTPConnectError: Error connecting to 127.0.0.1 on port 25",
            "anne@example.dk",
            None,
            "SMTPConnectError: Error connecting to 127.0.0.1 on port 25",
        ),
    ],
)
def test_the_reason_keeps_the_codes_and_words_and_no_address(
    code: int | None, message: str, recipient: str, status: str | None, reason: str
) -> None:
    reply = smtp_reply(code, message, recipient)
    assert (reply.code, reply.enhanced_status, reply.reason) == (code, status, reason)


def test_a_permanent_refusal_carries_its_codes_to_the_delivery_error() -> None:
    error = classify(smtp_reply(550, "5.1.1 <anne@example.dk>: User unknown", "anne@example.dk"))
    assert isinstance(error, PermanentDeliveryError)
    assert (error.smtp_code, error.enhanced_status) == (550, "5.1.1")
    assert "anne" not in error.reason


LOCAL = st.from_regex(r"[a-z][a-z0-9._+-]{0,20}[a-z0-9]", fullmatch=True)
DOMAIN = st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(dk|com|org)", fullmatch=True)


@given(
    local=LOCAL,
    domain=DOMAIN,
    before=st.sampled_from(["", "<", "Recipient ", "RCPT TO:<", "("]),
    after=st.sampled_from(["", ">", ">: User unknown", " not found", ")", "; over quota"]),
)
def test_no_address_survives_whatever_stands_around_it(
    local: str, domain: str, before: str, after: str
) -> None:
    address = f"{local}@{domain}"
    reason = smtp_reply(550, f"5.1.1 {before}{address}{after}", address).reason
    assert address not in reason
    assert f"{local}@" not in reason
    assert REDACTED in reason
