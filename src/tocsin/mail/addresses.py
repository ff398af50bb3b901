"""E-mail addresses as settings and callers give them: ``notifications@firm.fr`` or
``Cabinet Dupont <notifications@firm.fr>``."""

from __future__ import annotations

from email.errors import NonASCIILocalPartDefect
from email.headerregistry import Address, AddressHeader, HeaderRegistry

_REGISTRY = HeaderRegistry()


def parse_address(value: str) -> Address:
    """One address, optionally with a display name, parsed as RFC 5322 says.

    A non-ASCII local part (``élodie@…``) is accepted: servers offering SMTPUTF8 take it.

    Raises:
        ValueError: not exactly one well-formed address (line breaks are refused outright:
            they would smuggle headers in).
    """
    text = value.strip()
    if not text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError(
            "must be one e-mail address, e.g. Cabinet Dupont <notifications@dupont.fr>"
        )
    try:
        header = _REGISTRY("to", text)
    except (IndexError, ValueError, TypeError):
        header = None  # the header parser raises IndexError on "a@"
    if not isinstance(header, AddressHeader):
        raise ValueError(f"{text!r} is not an e-mail address, e.g. notifications@dupont.fr")
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    if len(header.addresses) != 1 or defects:
        raise ValueError(f"{text!r} is not one e-mail address, e.g. notifications@dupont.fr")
    address = header.addresses[0]
    if not address.username or not address.domain:
        raise ValueError(f"{text!r} is not an e-mail address, e.g. notifications@dupont.fr")
    return address
