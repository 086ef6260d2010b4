"""Outcomes: what a request to the gateway did, written to its rows, or to the spool on
disk when the database refuses, and the msgid of a lost request recovered from its
reports.

:mod:`.spool` needs no configured settings (the fake gateway and crash tests use it
alone), so the names below load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

if TYPE_CHECKING:
    from .write import (
        FROM_STATUSES,
        Outcome,
        apply_spool,
        apply_spool_once_per_process,
        land,
        parse_spooled,
        record,
        retry_window,
        with_retries,
    )

__all__ = [
    "FROM_STATUSES",
    "Outcome",
    "apply_spool",
    "apply_spool_once_per_process",
    "land",
    "parse_spooled",
    "record",
    "retry_window",
    "with_retries",
]
__getattr__, __dir__ = exports(__name__, dict.fromkeys(__all__, "write"))
