"""API keys: made once, shown once, stored as a prefix and a keyed hash.

A key reads ``xc_<prefix>_<secret>``: the prefix finds the row (it is unique and not
secret), the secret is compared with the stored HMAC-SHA256 of it under the app's key, in
constant time. A request presents it as ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable

from django.db.models import F
from django.utils import timezone

from ..models import ApiKey, ApiRateWindow, Message
from ..verification.codes import app_key
from .errors import ApiError

PREFIX_BYTES = 6
SECRET_BYTES = 24
PREFIX_SHAPE = re.compile(r"[0-9a-f]{1,16}")


def digest(secret: str) -> str:
    return hmac.new(app_key(), b"api-key:" + secret.encode(), hashlib.sha256).hexdigest()


def create_key(
    name: str,
    *,
    scopes: Iterable[str],
    kinds: Iterable[str] = (),
    accounts: Iterable[str] = (),
    allowed_ips: str = "",
    per_minute: int = 600,
    created_by: object = None,
) -> tuple[ApiKey, str]:
    """A new key: the saved row and the key itself, which is not stored anywhere.
    Raises ValueError, before anything is written, for an unknown scope or kind or an
    allow-list line that is not an address or network (as the admin refuses them)."""
    scopes, kinds = sorted(set(scopes)), sorted(set(kinds))
    unknown = [s for s in scopes if s not in ApiKey.Scope.values]
    unknown += [k for k in kinds if k not in Message.Kind.values]
    if unknown:
        raise ValueError(f"no such scope or kind: {', '.join(map(repr, unknown))}")
    networks(allowed_ips)
    row = ApiKey(
        name=name,
        scopes=scopes,
        kinds=kinds,
        accounts=sorted(set(accounts)),
        allowed_ips=allowed_ips,
        per_minute=per_minute,
        created_by=created_by,
    )
    return row, issue(row)


def issue(row: ApiKey) -> str:
    """Give ``row`` a new prefix and secret, save it, and return the key (once)."""
    row.prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    row.secret_hash = digest(secret)
    row.save()
    return f"xc_{row.prefix}_{secret}"


def save_key(row: ApiKey) -> str | None:
    """Save ``row`` as staff edited it; a new row gets its key, returned once (None for
    an existing row, whose key does not change)."""
    if row.pk is None:
        return issue(row)
    row.save()
    return None


def networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The allow-list's lines as networks; raises ValueError naming a bad line."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            found.append(ipaddress.ip_network(line, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {line!r}") from None
    return found


def authenticate(header: str, ip: str | None) -> ApiKey:
    """The active key of an ``Authorization`` header, accepted from ``ip``; raises
    :class:`ApiError` (401 without a valid key, 403 from an address not allowed)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith("xc_"):
        raise ApiError(401, "unauthenticated", "send the API key as: Authorization: Bearer xc_…")
    prefix, _, secret = token[3:].partition("_")
    # Only a prefix this module could have made goes to the database (a NUL is a 500 there).
    shaped = PREFIX_SHAPE.fullmatch(prefix)
    row = ApiKey.objects.filter(prefix=prefix, is_active=True).first() if shaped else None
    if row is None or not hmac.compare_digest(row.secret_hash, digest(secret)):
        raise ApiError(401, "unauthenticated", "the API key is not valid, or was revoked")
    if row.allowed_ips.strip():
        try:
            address = ipaddress.ip_address(ip or "")
        except ValueError:
            address = None
        if address is None or not any(address in net for net in networks(row.allowed_ips)):
            raise ApiError(403, "ip_not_allowed", "the key is not accepted from this address")
    return row


def require(row: ApiKey, scope: str) -> None:
    if scope not in row.scopes:
        raise ApiError(403, "scope_missing", f"the key lacks the {scope!r} scope")


def count_request(row: ApiKey, now: dt.datetime | None = None) -> None:
    """Count one request in the key's current minute; raise :class:`ApiError` 429 past
    its limit. Two statements, whatever the number of processes: the window's row is
    created if missing, then raised by an UPDATE that only passes under the limit."""
    now = now or timezone.now()
    minute = now.replace(second=0, microsecond=0)
    ApiRateWindow.objects.bulk_create(
        [ApiRateWindow(api_key=row, minute=minute)], ignore_conflicts=True
    )
    counted = ApiRateWindow.objects.filter(
        api_key=row, minute=minute, count__lt=row.per_minute
    ).update(count=F("count") + 1)
    if not counted:
        retry = 60 - now.second
        raise ApiError(
            429,
            "rate_limited",
            f"the key's limit of {row.per_minute} requests per minute is reached",
            headers={"Retry-After": str(retry)},
        )
