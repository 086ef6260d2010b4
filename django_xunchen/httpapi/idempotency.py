"""``Idempotency-Key``: the same key with the same body within :data:`WINDOW` gets the
first answer again, and nothing more is done; with another body, 422.

The key is taken by inserting a row (unique per API key and idempotency key) in its own
transaction, before the work: of two racing requests one inserts, the other finds the
row and waits for its answer (:data:`WAIT` at most, then 409 ``in_progress``). The
answer is stored on the row when the work is done. A request whose work failed with an
unexpected error (a 500) releases the key, so that a retry may do it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import ApiKey, IdempotencyRecord
from .errors import ApiError

WINDOW = dt.timedelta(hours=24)
#: Seconds a request waits for a racing request with the same key to finish.
WAIT = 30.0
POLL = 0.05
MAX_KEY = 255

Answer = tuple[int, dict[str, Any]]


def fingerprint(method: str, path: str, body: Any) -> str:
    """The request as compared: method, path and the JSON body, keys sorted."""
    text = json.dumps([method, path, body], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def valid(key: str) -> bool:
    """1 to :data:`MAX_KEY` printable characters: no control character (a NUL is a 500
    from PostgreSQL, and none belongs in a key)."""
    return 0 < len(key) <= MAX_KEY and key.isprintable()


def once(api_key: ApiKey, key: str, request_hash: str, work: Callable[[], Answer]) -> Answer:
    """``work()``'s answer, done at most once per ``(api_key, key)`` within the window."""
    if not valid(key):
        raise ApiError(
            422,
            "invalid_idempotency_key",
            "an Idempotency-Key is 1 to 255 printable characters",
        )
    row = _take(api_key, key, request_hash)
    if row is not None:
        return _replay(row, request_hash)
    try:
        status, body = work()
    except ApiError as error:
        if transient(error.status):
            _release(api_key, key)
            raise
        status, body = error.status, error.body()
    except BaseException:
        _release(api_key, key)
        raise
    IdempotencyRecord.objects.filter(api_key=api_key, key=key).update(status=status, response=body)
    return status, body


def transient(status: int) -> bool:
    """Answers not kept for the key: a 429 (a rate limit or a code's throttle, which
    passes) and a 5xx (an unexpected error, the gateway refusing or unreachable before
    anything went out). The key is released, so that a retry with it may do the work."""
    return status == 429 or status >= 500


def _release(api_key: ApiKey, key: str) -> None:
    IdempotencyRecord.objects.filter(api_key=api_key, key=key, status__isnull=True).delete()


def _take(api_key: ApiKey, key: str, request_hash: str) -> IdempotencyRecord | None:
    """Take ``key`` (None), or the row that holds it (an earlier or racing request)."""
    IdempotencyRecord.objects.filter(
        api_key=api_key, key=key, created_at__lt=timezone.now() - WINDOW
    ).delete()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(api_key=api_key, key=key, request_hash=request_hash)
        return None
    except IntegrityError:
        found = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if found is None:  # the racing request failed and released it meanwhile
            raise ApiError(
                409, "in_progress", "retry: the first request with this key failed"
            ) from None
        return found


def _replay(row: IdempotencyRecord, request_hash: str) -> Answer:
    if row.request_hash != request_hash:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with another request in the last 24 hours",
        )
    deadline = time.monotonic() + WAIT
    while row.status is None:
        if time.monotonic() > deadline:
            raise ApiError(
                409, "in_progress", "a request with this Idempotency-Key is still being done"
            )
        time.sleep(POLL)
        found = IdempotencyRecord.objects.filter(pk=row.pk).first()
        if found is None:  # the first request failed and released the key
            raise ApiError(409, "in_progress", "retry: the first request with this key failed")
        row = found
    return row.status, row.response
