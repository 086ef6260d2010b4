"""Fill or refresh the carrier and province of rows already written: after an upgrade
(rows written before the facts existed) or after the ``phonenumbers`` data were updated.
``manage.py sms_number_facts`` runs it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from django.db import transaction

from ..models import Message
from ..operations import rollup
from .numbers import facts

#: Rows read and written per transaction.
BATCH_SIZE = 5000


def refresh(
    *,
    batch_size: int = BATCH_SIZE,
    only_unknown: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Derive every row's facts again from its number, a batch of ids at a time, and
    write those that changed (one UPDATE per pair of facts in a batch); the days of the
    changed rows are recounted by the next rollup. ``only_unknown``: only rows whose
    carrier or province is unknown. Returns how many rows changed; ``progress`` is called
    with (rows seen, rows changed) after each batch."""
    rows = Message.objects.order_by("pk")
    if only_unknown:
        rows = rows.filter(carrier="") | rows.filter(province="")
    after, seen, changed = 0, 0, 0
    while True:
        batch = list(
            rows.filter(pk__gt=after).values_list("pk", "mobile", "carrier", "province")[
                :batch_size
            ]
        )
        if not batch:
            return changed
        after = batch[-1][0]
        seen += len(batch)
        moved: dict[tuple[str, str], list[int]] = defaultdict(list)
        for pk, mobile, carrier, province in batch:
            found = facts(mobile)
            if found != (carrier, province):
                moved[found].append(pk)
        with transaction.atomic():
            for (carrier, province), ids in moved.items():
                changing = Message.objects.filter(pk__in=ids)
                rollup.touched_where(changing)
                changed += changing.update(carrier=carrier, province=province)
        if progress is not None:
            progress(seen, changed)
