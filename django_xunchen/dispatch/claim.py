"""The claim: a row is taken for sending by one process at a time, and a row left in
``sending`` longer than a request can last is known to have lost its process."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.sql import UpdateQuery

from ..conf import account_names, xunchen_settings
from ..models import Message, Template

Status = Message.Status


def stale_after() -> dt.timedelta:
    """How long a row may stay ``sending`` before the sweep marks it ``unknown``: longer
    than any request (the longest deadline of any account) plus the outcome write's
    retries, so that the sweep never races a request still in flight, plus
    ``SWEEP_MARGIN``: a row in ``sending`` for longer lost its process mid-request."""
    deadline = max(float(xunchen_settings(n)["REQUEST_DEADLINE"] or 0) for n in account_names())
    conf = xunchen_settings()
    seconds = deadline + float(conf["OUTCOME_RETRY_SECONDS"]) + float(conf["SWEEP_MARGIN"])
    return dt.timedelta(seconds=seconds)


def _claim(claimable: QuerySet[Message], token: uuid.UUID, now: dt.datetime) -> set[int]:
    """Claim the rows of ``claimable`` for one request; return their ids. One statement
    where UPDATE … RETURNING exists (PostgreSQL, SQLite 3.35+), else the UPDATE and a
    SELECT by the claim token."""
    values = {"status": Status.SENDING, "claim": token, "attempts": F("attempts") + 1}
    # The claim is cleared with the outcome; the request and its time stay, so that a
    # report can still prove which rows went together (:mod:`.recovery`).
    values.update(updated_at=now, request=token, requested_at=now)
    if not _update_returns_rows():
        if not claimable.update(**values):
            return set()
        return set(Message.objects.filter(claim=token).values_list("pk", flat=True))
    query = claimable.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(claimable.db).as_sql()
    pk = connection.ops.quote_name(Message._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {pk}", params)
        return {row[0] for row in cursor.fetchall()}


def _update_returns_rows() -> bool:
    if connection.vendor == "postgresql":
        return True
    if connection.vendor == "sqlite":
        return connection.Database.sqlite_version_info >= (3, 35)
    return False


def _move(
    rows: Sequence[Message], token: uuid.UUID, account: str, template: Template | None
) -> None:
    """Put claimed rows (still ``sending``) on another account before its attempt, or
    back on their own once every attempt certainly failed."""
    Message.objects.filter(pk__in=[r.pk for r in rows], claim=token).update(
        account=account, template=template
    )
    for row in rows:
        row.account, row.template = account, template
