"""Query counts are deterministic: a send takes two queries per request, whatever its size."""

import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_xunchen import send_sms
from django_xunchen.models import Message
from django_xunchen.sending.bulk import COPY_FROM

pytestmark = pytest.mark.django_db(transaction=True)
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")


def _statements(fn, *args, **kwargs):
    with CaptureQueriesContext(connection) as ctx:
        fn(*args, **kwargs)
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]


def _numbers(count, prefix="138"):
    return [f"{prefix}{i:08d}" for i in range(count)]


@pytest.mark.parametrize("count", [1, 100, 250, 1000])
def test_two_queries_per_request_whatever_its_size(count):
    statements = _statements(send_sms, _numbers(count), "x")
    requests = math.ceil(count / 100)
    policy = [s for s in statements if "suppression" in s.split(" WHERE ")[0] or "blockedword" in s]
    assert len(policy) == 3, (
        "once per send: the suppression list and the learned words when the rows are written, "
        "the learned words again when they are submitted (admission.at_submit)"
    )
    copy = connection.vendor == "postgresql" and count >= COPY_FROM
    ids = [s for s in statements if "nextval" in s]
    assert len(ids) == (1 if copy else 0), "COPY takes its ids from the sequence at once"
    others = [
        s for s in statements if not s.startswith("INSERT") and s not in policy and s not in ids
    ]
    assert len(others) == 2 * requests, "claim UPDATE … RETURNING, outcome UPDATE"
    claims = [s for s in others if "RETURNING" in s]
    assert len(claims) == requests
    inserts = [s for s in statements if s.startswith("INSERT")]
    columns = [f for f in Message._meta.concrete_fields if not f.primary_key]
    per_insert = connection.ops.bulk_batch_size(columns, [None] * count)
    assert len(inserts) <= math.ceil(count / per_insert), (
        "rows are inserted in bulk, not one by one"
    )
    if connection.vendor == "postgresql":
        assert len(inserts) == (0 if copy else 1), "one INSERT, or a COPY"
