"""Polling: fetch delivery reports and replies, journal them, ingest them exactly once.

The gateway returns each record once only, so the raw body is committed to the journal
before anything parses it, even a body that broke off part-way (every byte that came).
Each journal entry is then ingested in one transaction that stores its records, matches
them, moves message statuses forward and marks the entry done; a failure anywhere rolls
all of that back and leaves the entry ``pending`` for the next poll. After
``JOURNAL_MAX_ATTEMPTS`` failures it is set aside for staff, so that one bad entry does
not fail every later poll. A body cut off part-way is read record by record: the
complete records before the cut are stored and the entry is ``salvaged``. Signals go out
after the transaction commits.
"""

from .accounts import LOCK_NAME, GatewayAccount, gateway_accounts, lock_name_for
from .fetch import AnswerKept, import_answer
from .journal import retry_set_aside
from .replies import extcode_of
from .reports import apply_report
from .result import PollResult
from .run import poll

__all__ = [
    "LOCK_NAME",
    "AnswerKept",
    "GatewayAccount",
    "PollResult",
    "apply_report",
    "extcode_of",
    "gateway_accounts",
    "import_answer",
    "lock_name_for",
    "poll",
    "retry_set_aside",
]
