"""Helpers for the rows a poll stores: batches, and values cut to their column's width."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from ..models import InboundMessage, Report

logger = logging.getLogger("django_xunchen.polling")

R = TypeVar("R", Report, InboundMessage)


CHUNK = 1000


def _chunks(items: Sequence[Any], size: int | None = None) -> Iterable[tuple[int, Sequence[Any]]]:
    size = size or CHUNK
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


def _limits(model: type[Report] | type[InboundMessage]) -> list[tuple[str, int]]:
    """The text columns of ``model`` with their lengths."""
    return [
        (f.attname, f.max_length)
        for f in model._meta.concrete_fields
        if f.get_internal_type() == "CharField" and f.max_length
    ]


def _fit(row: R) -> R:
    """Cut any text longer than its column and flag the row, so that one odd record
    (PostgreSQL refuses an over-long value) never rolls back the whole response. The
    journal entry keeps the record as it came."""
    for name, limit in _limits(type(row)):
        value = getattr(row, name)
        if isinstance(value, str) and len(value) > limit:
            setattr(row, name, value[:limit])
            row.truncated = True
    if row.truncated:
        logger.warning(
            "a %s from journal entry %s had a field longer than its column; stored cut and flagged",
            type(row)._meta.verbose_name,
            row.source_id,
        )
    return row
