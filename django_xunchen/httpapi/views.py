"""The HTTP API's endpoints: plain Django views that read JSON and answer JSON.

Each goes through :func:`endpoint`, which authenticates the key, checks its scope and
rate, runs the view (once per ``Idempotency-Key`` for a POST), turns every error into
the one shape of :mod:`.errors`, and logs the request with its key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from ..api import get_balances
from ..conf import DEFAULT_KIND, account_names
from ..exceptions import XunchenError
from ..models import ApiKey, ApiRequest, Message
from ..operations.monitoring import Level, run_checks, worst
from ..sending.compose import resolve_account
from ..sending.send import send_sms
from ..verification.codes import check_code, client_ip, request_code
from . import idempotency, keys
from .errors import ApiError, from_exception
from .serialize import message

logger = logging.getLogger("django_xunchen.httpapi")

#: Numbers one POST of messages may name.
MAX_NUMBERS = 10000
#: Messages per page of the list, by default and at most.
PAGE, MAX_PAGE = 50, 200

Answer = tuple[int, dict[str, Any]]
View = Callable[..., Answer]


def endpoint(
    scope: str, methods: tuple[str, ...], allow: tuple[str, ...] = ()
) -> Callable[[View], Callable[..., HttpResponse]]:
    """Wrap a view that takes ``(request, key, body, **kwargs)`` and returns ``(status,
    JSON)``: key, scope, rate, idempotency, errors and the request log, in that order.
    ``allow``: the methods its URL answers, when another view shares it (``methods``)."""
    allowed = allow or methods

    def wrap(view: View) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @transaction.non_atomic_requests
        @functools.wraps(view)
        def run(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            row: ApiKey | None = None
            idem = request.headers.get("Idempotency-Key", "")
            try:
                if request.method not in methods:
                    raise ApiError(
                        405,
                        "method_not_allowed",
                        f"use {' or '.join(allowed)}",
                        headers={"Allow": ", ".join(allowed)},
                    )
                row = keys.authenticate(
                    request.headers.get("Authorization", ""), client_ip(request)
                )
                keys.require(row, scope)
                keys.count_request(row)
                body = _body(request) if request.method == "POST" else {}
                if request.method == "POST" and idem:
                    fingerprint = idempotency.fingerprint(request.method, request.path, body)
                    status, answer = idempotency.once(
                        row, idem, fingerprint, lambda: _run(view, request, row, body, kwargs)
                    )
                else:
                    status, answer = _run(view, request, row, body, kwargs)
                response = JsonResponse(
                    answer, status=status, json_dumps_params={"ensure_ascii": False}
                )
            except ApiError as error:
                response = error.response()
            except Exception as exc:  # a bug, a database outage, the settings: still one shape
                logger.exception("API %s %s failed", request.method, request.path)
                response = from_exception(exc).response()
            _log(request, row, response, idem)
            return response

        return run

    return wrap


def _run(
    view: View, request: HttpRequest, row: ApiKey, body: dict[str, Any], kwargs: dict[str, Any]
) -> Answer:
    try:
        return view(request, row, body, **kwargs)
    except ApiError:
        raise
    except (XunchenError, ValueError, LookupError) as exc:
        error = from_exception(exc)
        if error.status >= 500:
            logger.exception("API %s %s failed", request.method, request.path)
        raise error from exc


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(
            413, "body_too_large", "the body is larger than the server accepts"
        ) from None
    try:
        body = json.loads(raw or b"{}", parse_float=_finite, parse_constant=_not_json)
    except (ValueError, RecursionError):
        # ValueError: not UTF-8, not JSON, NaN or Infinity, a float beyond float's range or
        # an integer past Python's digit limit. RecursionError: nested too deep to read.
        raise ApiError(400, "invalid_json", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body is a JSON object")
    if _depth(body) > MAX_DEPTH:
        # Python 3.13's decoder reads nesting that SQLite's JSON (1,000 levels) refuses.
        raise ApiError(400, "invalid_json", f"the body is nested deeper than {MAX_DEPTH} levels")
    for name, value in body.items():
        if not _storable(name) or not _storable(value):
            raise ApiError(
                422,
                "invalid_body",
                f"{name!r} holds a NUL character or an unpaired surrogate",
                {"field": name},
            )
    return body


#: What no database stores as text: NUL (PostgreSQL refuses it in text and JSON) and an
#: unpaired surrogate (not UTF-8). JSON carries both as escapes (\u0000, \ud800).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


#: The deepest nesting of a body: far more than any request needs, far less than what a
#: database's JSON accepts.
MAX_DEPTH = 32


def _depth(value: Any) -> int:
    """How deep ``value`` nests (a scalar: 0), walked without recursion."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, level = pending.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        if isinstance(item, dict):
            pending.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            pending.extend((v, level + 1) for v in item)
    return deepest


def _storable(value: Any) -> bool:
    """Whether every string in ``value`` (keys too, at any depth) can be stored."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return False
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond a float")
    return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _log(request: HttpRequest, row: ApiKey | None, response: HttpResponse, idem: str) -> None:
    error = ""
    if response.status_code >= 400:
        try:
            error = json.loads(response.content)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            error = ""
    ApiRequest.objects.create(
        api_key=row,
        method=(request.method or "")[:8],
        path=request.path[:200],
        status=response.status_code,
        error=error[:40],
        ip=client_ip(request),
        idempotency_key=idem[: idempotency.MAX_KEY] if idem.isprintable() else "",
    )
    if row is not None:
        now = timezone.now()
        ApiKey.objects.filter(pk=row.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - dt.timedelta(minutes=1))
        ).update(last_used_at=now)


# --------------------------------------------------------------------------- checks


def _field(
    body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None
) -> Any:
    value = body.get(name, default)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON's true and false are ints to Python: a bool only where a bool is wanted.
    boolean = isinstance(value, bool) and bool not in kinds
    if value is not None and (boolean or not isinstance(value, kinds)):
        raise ApiError(422, "invalid_body", f"{name!r} has the wrong type", {"field": name})
    return value


def _time(body: dict[str, Any], name: str, code: str = "invalid_body") -> dt.datetime | None:
    value = _field(body, name, str)
    if value is None:
        return None
    parsed = _aware(value)
    if parsed is None:
        raise ApiError(
            422,
            code,
            f"{name!r} is an ISO 8601 time with its offset, e.g. 2026-12-06T09:30:00+08:00",
            {"field": name},
        )
    return parsed


def _aware(value: str) -> dt.datetime | None:
    """``value`` as a time with its offset, one that is a time in UTC too; else None
    (parse_datetime raises for a day or an offset that does not exist, and a time
    within an offset of year 1 or 9999 overflows when the database takes it as UTC)."""
    try:
        parsed = parse_datetime(value)
        if parsed is None or timezone.is_naive(parsed):
            return None
        parsed.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        return None
    return parsed


def _allowed(row: ApiKey, kind: str, account: str) -> None:
    if row.kinds and kind not in row.kinds:
        raise ApiError(403, "kind_not_allowed", f"the key may not send {kind} messages")
    if row.accounts and account not in row.accounts:
        raise ApiError(403, "account_not_allowed", f"the key may not use account {account!r}")


def _visible(row: ApiKey, rows: QuerySet[Message]) -> QuerySet[Message]:
    if row.kinds:
        rows = rows.filter(kind__in=row.kinds)
    if row.accounts:
        rows = rows.filter(account__in=row.accounts)
    return rows


# --------------------------------------------------------------------------- messages


@csrf_exempt
@transaction.non_atomic_requests
def messages(request: HttpRequest) -> HttpResponse:
    """``messages``: POST sends, GET lists."""
    if request.method == "GET":
        return listing(request)
    return send(request)


@endpoint("send", ("POST",), allow=("GET", "POST"))
def send(request: HttpRequest, row: ApiKey, body: dict[str, Any]) -> Answer:
    """``POST messages``: send one SMS to each number."""
    mobiles = _field(body, "mobiles", list)
    if mobiles is None:
        one = _field(body, "mobile", str)
        mobiles = [one] if one is not None else None
    if not mobiles:
        raise ApiError(422, "invalid_body", "give 'mobile' or 'mobiles'", {"field": "mobiles"})
    if len(mobiles) > MAX_NUMBERS:
        raise ApiError(
            422, "invalid_body", f"at most {MAX_NUMBERS} numbers per request", {"field": "mobiles"}
        )
    kind = _field(body, "kind", str, DEFAULT_KIND)
    chosen = _field(body, "account", str)
    if chosen is not None:  # before it is looked up: a restricted key learns of no other
        _allowed(row, kind, chosen)
    account = resolve_account(kind, chosen)
    _allowed(row, kind, account)
    tags = _field(body, "tags", list)
    if tags is not None and not all(isinstance(t, str) for t in tags):
        raise ApiError(422, "invalid_body", "'tags' is a list of strings", {"field": "tags"})
    sent = send_sms(
        mobiles,
        _field(body, "content", str),
        template=_field(body, "template", str),
        params=_field(body, "params", (dict, list)),
        extcode=_field(body, "extcode", (str, int)),
        send_at=_time(body, "send_at"),
        expires_at=_time(body, "expires_at"),
        kind=kind,
        account=account,
        tags=tags,
        metadata=_field(body, "metadata", dict),
        background=_field(body, "background", bool),
        fail_silently=True,
    )
    stored = Message.objects.filter(pk__in=[m.pk for m in sent]).order_by("pk")
    return 201, {"messages": [message(m) for m in stored]}


@endpoint("read", ("GET",))
def detail(request: HttpRequest, row: ApiKey, body: dict[str, Any], pk: int) -> Answer:
    """``GET messages/{id}``."""
    found = _visible(row, Message.objects.filter(pk=pk)).first()
    if found is None:
        raise ApiError(404, "not_found", "no such message")
    return 200, message(found)


@endpoint("read", ("GET",))
def listing(request: HttpRequest, row: ApiKey, body: dict[str, Any]) -> Answer:
    """``GET messages``: newest first, filtered, a page at a time: ``next`` is the
    cursor of the next page (None on the last)."""
    query = request.GET
    for name, values in query.lists():
        if any("\x00" in value for value in values):  # PostgreSQL refuses NUL in text
            raise ApiError(422, "invalid_query", f"{name!r} holds a NUL", {"field": name})
    rows = _visible(row, Message.objects.all())
    for name in ("status", "kind", "account", "mobile", "msgid"):
        if query.get(name):
            rows = rows.filter(**{name: query[name]})
    if query.get("tag"):
        rows = rows.tagged(query["tag"])
    for name, lookup in (("created_after", "gte"), ("created_before", "lt")):
        if query.get(name):
            moment = _time(dict(query.items()), name, "invalid_query")
            rows = rows.filter(**{f"created_at__{lookup}": moment})
    try:
        limit = int(query.get("limit", PAGE))
    except ValueError:
        raise ApiError(422, "invalid_query", "'limit' is a number", {"field": "limit"}) from None
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(422, "invalid_query", f"'limit' is 1 to {MAX_PAGE}", {"field": "limit"})
    if query.get("cursor"):
        created, pk = _cursor(query["cursor"])
        rows = rows.filter(Q(created_at__lt=created) | Q(created_at=created, pk__lt=pk))
    page = list(rows.order_by("-created_at", "-pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    following = _make_cursor(page[-1]) if more else None
    return 200, {"messages": [message(m) for m in page], "next": following}


def _make_cursor(row: Message) -> str:
    text = f"{row.created_at.isoformat()}|{row.pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _cursor(value: str) -> tuple[dt.datetime, int]:
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        moment, pk = text.split("|")
        created = _aware(moment)
        if created is None:
            raise ValueError
        return created, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            422, "invalid_query", "'cursor' is not one this API gave", {"field": "cursor"}
        ) from None


# --------------------------------------------------------------------------- codes


def _code_fields(row: ApiKey, body: dict[str, Any]) -> tuple[str, str]:
    """The mobile and purpose, once the key may use codes: their kind and the account
    they go out on, for checking as for requesting."""
    if row.kinds and "verification" not in row.kinds:
        raise ApiError(403, "kind_not_allowed", "the key may not send verification codes")
    if row.accounts:  # else checking needs no account, and a bad route is not its error
        _allowed(row, "verification", resolve_account("verification", None))
    mobile = _field(body, "mobile", str)
    if mobile is None:
        raise ApiError(422, "invalid_body", "give 'mobile'", {"field": "mobile"})
    return mobile, _field(body, "purpose", str, "login")


@endpoint("codes", ("POST",))
def codes(request: HttpRequest, row: ApiKey, body: dict[str, Any]) -> Answer:
    """``POST codes``: send a verification code (``ip``: the end user's address, for
    the per-IP throttle)."""
    mobile, purpose = _code_fields(row, body)
    ip = _field(body, "ip", str)
    found = request_code(mobile, purpose, ip=ip)
    if found.status == "throttled":
        raise ApiError(
            429,
            "throttled",
            "too many codes for this number, address or prefix: wait",
            {"retry_after": found.retry_after, "reason": found.reason},
            headers={"Retry-After": str(found.retry_after)},
        )
    if found.status == "failed":
        if found.error is not None:
            raise from_exception(found.error)
        raise ApiError(502, "code_not_sent", "the code could not be sent")
    sent = found.message.pk if found.message else None
    return 201, {"status": found.status.value, "message": sent}


@endpoint("codes", ("POST",))
def codes_check(request: HttpRequest, row: ApiKey, body: dict[str, Any]) -> Answer:
    """``POST codes/check``: check a code; a right one is used up."""
    mobile, purpose = _code_fields(row, body)
    code = body.get("code")
    if not isinstance(code, str):
        raise ApiError(
            422,
            "invalid_body",
            "'code' is a string of digits (leading zeros count)",
            {"field": "code"},
        )
    found = check_code(mobile, code, purpose)
    return 200, {
        "verified": found.verified,
        "status": found.status.value,
        "attempts_left": found.attempts_left,
    }


# --------------------------------------------------------------------------- balance, health


@endpoint("read", ("GET",))
def balance(request: HttpRequest, row: ApiKey, body: dict[str, Any]) -> Answer:
    """``GET balance``: each account the key may use."""
    names = [n for n in account_names() if not row.accounts or n in row.accounts]
    result = []
    for name in names:
        found = get_balances(only=name)[name]
        if isinstance(found, Exception):
            result.append({"account": name, "error": from_exception(found).body()["error"]})
        else:
            result.append(
                {"account": name, "amount": str(found.amount), "messages": found.messages}
            )
    return 200, {"balances": result}


@endpoint("health", ("GET",))
def health(request: HttpRequest, row: ApiKey, body: dict[str, Any]) -> Answer:
    """``GET health``: the health report, as ``sms/health/`` gives it."""
    checks = run_checks()
    return 200, {
        "status": worst(checks).name.lower(),
        "critical": worst(checks) >= Level.CRITICAL,
        "checks": [c.as_dict() for c in checks],
    }
