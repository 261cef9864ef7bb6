"""E-mail addresses as they enter the bot: exactly one RFC 5321 mailbox, or a refusal.

Every place that takes an address from outside (the chat parser, the web forms, the CSV import, the
command line, organisers named by address) asks `mailbox`. An address is one mailbox: a local part of
dot-atom characters (no quoting, no spaces, commas, angle brackets or control characters), an `@`,
and a domain that is a valid internationalised domain name (IDNA) with a dot in it; within the
lengths of RFC 5321 (64 before the `@`, 254 in all). Nothing is looked up: whether the domain takes
mail is the mail server's question.
"""

from __future__ import annotations

# email_validator is imported when an address is first checked, not at start: the bot's start-up
# and most commands (an export) check none.
MAX_LENGTH = 254


class BadAddress(ValueError):
    """`text` is not one mailbox; `reason` says why in English (for logs and the CSV report)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def mailbox(text: str) -> str:
    """The address in the form the bot keeps (lower case, domain in Unicode NFC); raises BadAddress.

    Surrounding whitespace is the user's slip and is dropped; any inside the address is refused.
    """
    candidate = text.strip()
    if not candidate:
        raise BadAddress("empty")
    if len(candidate) > MAX_LENGTH:  # before the library sees it: a long input costs nothing
        raise BadAddress(f"longer than {MAX_LENGTH} characters")
    from email_validator import EmailNotValidError, validate_email

    try:
        valid = validate_email(
            candidate,
            check_deliverability=False,  # no DNS: the mail server tells
            allow_smtputf8=False,  # the local part in ASCII: every mail server takes it
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            strict=True,  # the 64-character local part too
        )
    except EmailNotValidError as exc:
        raise BadAddress(str(exc)) from None
    return valid.normalized.lower()


def is_mailbox(text: str) -> bool:
    try:
        mailbox(text)
    except BadAddress:
        return False
    return True


def ascii_mailbox(address: str) -> str:
    """The address with its domain in IDNA A-labels (`kari@xn--kommun-fva.no`), as the SMTP envelope
    and mail headers need it without SMTPUTF8; unchanged when it is ASCII or not one mailbox."""
    if address.isascii():
        return address
    from email_validator import EmailNotValidError, validate_email

    try:
        found = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return address
    return str(found.ascii_email or address)
