"""When two e-mail addresses are the same person: one rule, used everywhere.

Tokens (a participant acting for themselves), the key vault's digest (one person per
address) and the notification feed (whose mail a participant may read) all compare
addresses with :func:`normalise_email`, so none of them can call two addresses one person
while another keeps them apart.

Why ``lower()`` and not ``casefold()``: case folding is for caseless *matching of words*;
it maps distinct characters onto each other (``ß`` -> ``ss``, ``ﬁ`` -> ``fi``, final ``ς``
-> ``σ``), so ``straße@kommune.dk`` and ``strasse@kommune.dk``, two mailboxes of two
people, would fold to one. ``lower()`` only merges what differs by case, which is what
mail systems treat as the same mailbox in practice. It is also what the vault has used for
its digests from the start, so no stored digest changes.
"""

from __future__ import annotations


def normalise_email(email: str) -> str:
    """The comparable form of an address: without surrounding blanks, in lower case."""
    return email.strip().lower()


def same_email(a: str, b: str) -> bool:
    """Whether two addresses name the same mailbox (see :func:`normalise_email`)."""
    return normalise_email(a) == normalise_email(b)
