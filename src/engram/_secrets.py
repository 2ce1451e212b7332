"""Secrets written in addresses, found and masked: one place for what a message, a log line or
a repr must never show.

An address may carry a password: a URL's user info (`postgresql://app:pw@db/x`,
`http://bob:pw@gpu/v1`), a URL's query parameter (`postgresql://app@db/x?password=pw`, which
libpq takes too) or a libpq keyword (`host=db password=pw`).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

__all__ = ["masked_address", "password_of", "without_url_passwords"]

_LIBPQ_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)", re.IGNORECASE)
"""The password of a libpq connection string (`host=db password=...`)."""

_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^\s/@:]*:)[^\s/@]+@", re.IGNORECASE)
"""The password of a URL quoted in a text (`http://user:password@host/...`)."""
_QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)[^&#\s'\"`]+", re.IGNORECASE)
"""A password given as a URL's query parameter (`...?password=...`, `&sslpassword=...`)."""


def password_of(address: str) -> str | None:
    """The password written in `address` (a URL's user info, or a libpq `password=`), as
    it is written there: what a driver's error message may quote."""
    scheme, separator, rest = address.partition("://")
    if separator:
        user_info = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[0]
        query = parse_qs(rest.partition("?")[2].partition("#")[0])
        return user_info.partition(":")[2] or next(iter(query.get("password", ())), None)
    found = _LIBPQ_PASSWORD.search(address)
    if found is None:
        return None
    return found.group(2).strip("'") or None


def masked_address(address: str) -> str:
    """`address` with its user, password and query (any may hold a secret) masked."""
    address = _LIBPQ_PASSWORD.sub(r"\1***", address)
    try:
        parts = urlsplit(address)
    except ValueError:
        return "***"
    if "@" not in parts.netloc and not parts.query:
        return address  # as given: `geturl` would respell some ("sqlite:///a.db")
    host = parts.netloc.rpartition("@")[2]
    netloc = f"***@{host}" if "@" in parts.netloc else host
    return parts._replace(netloc=netloc, query="***" if parts.query else "").geturl()


def without_url_passwords(text: str) -> str:
    """`text` with the password of every URL it quotes (in its user info or its query)
    replaced by `***`."""
    return _QUERY_PASSWORD.sub(r"\g<1>***", _URL_PASSWORD.sub(r"\g<1>***@", text))
