"""`make mutation`: mutation testing (mutmut) on the modules that carry the invariants.

Runs ``mutmut run`` (configured in pyproject.toml, ``[tool.mutmut]``), then prints one
line per module: mutants, killed, equivalent, survived, without a test, not measured,
without a result, and the score. The score is killed + equivalent over EVERY mutant in
scope: a mutant without a result for the current code counts against it. The survivors
named in UNMEASURED (code only PostgreSQL runs) are then run on a real PostgreSQL
(``--postgres``, :func:`judge_on_postgres`); those not judged there count against the
score too (reported apart, with their reason). EQUIVALENT below lists
the mutants no test can kill because the program behaves the same, each with its reason.
Every other survivor is printed by name: ``mutmut show NAME`` shows its diff.

It exits 1, with the reason on its last lines, when mutmut itself failed (its stats step,
or the tests run without any mutant: a test that fails unmutated makes every result
meaningless), when any mutant in scope has no result for the current code (a stopped run,
a module changed since the last run, a module never mutated), or when the score of the
whole or of any module is under the goal.

    python scripts/mutation.py            # run, then report
    python scripts/mutation.py --report   # report on the last run only (same gate)
    python scripts/mutation.py --fresh-stats  # after a refactoring: map the tests anew
    python scripts/mutation.py --since main   # only the functions changed since a git ref:
                                              # their score alone, never the whole score
    python scripts/mutation.py --keep     # after a stopped run: keep its results, report
    python scripts/mutation.py --survivors  # after writing tests: run the survivors again
    python scripts/mutation.py --confirm-claims NAME...  # claims checked on the current code
    python scripts/mutation.py --postgres # the mutants only PostgreSQL can judge, on it

The results are kept in the repository (scripts/mutation-results/: mutmut's record of
each module), merged with mutants/ before a run and written back after it, so that the
complete run, hours long, can span sessions and machines: a result counts only while
the function it belongs to has the hash it was recorded for.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 90.0
KILLED = {1, 3, 36, 24, -24, 152, 255, 37}  # a failing test, a timeout, a type error
NO_TEST = {5, 33}  # no test reaches the mutant
SURVIVED = {0, *NO_TEST}
#: No result for the current code: never run (None), interrupted (2), skipped (34).
NO_RESULT = {None, 2, 34}
#: mutmut's separator between class and method in a mutant's name.
SEPARATOR = "\u01c1"
#: mutmut's records (one ``.meta`` per module: each mutant's exit code, each function's
#: hash), kept in the repository: a complete run takes hours, and may span sessions and
#: machines.
KEPT = ROOT / "scripts" / "mutation-results"
STATS = "mutmut-stats.json"
#: In KEPT: the hash of each function whose EQUIVALENT claims were last checked on it.
CLAIMS = "equivalent-claims.json"

#: Mutants that cannot be killed, because the mutated program behaves exactly as the
#: original. Name → why.
_TEMPLATE_TEXT = (
    "given a template, admission.text() only checks the template's own footer and "
    "returns the content unread: the body and the account it is passed are for a text"
)
_PROTOTYPE_MOBILE = (
    "the prototype's number is never read: clone_for() gives each row its own number, "
    "the prototype's included, on both of its paths"
)
_LATER = (
    "the second Coalesce without its first column differs only for a row whose second "
    "is null and first is set, giving the later of first and created_at: went_out_at is "
    "read for marketing that went out, whose requested_at every claim stamps; "
    "waits_until only at write, against the end of today, which created_at (now or "
    "before) is under either way"
)
_HELD = "held becomes None instead of False: `held` is only ever read for its truth value"
_PROBE = (
    "the probe file's name prefix: the probe is deleted at once, and the spool reads only "
    "*.json files"
)
_UTF8 = (
    "open() without an encoding uses the locale's, which Python 3.10+ makes UTF-8 on "
    "every machine the suite runs on (PEP 538/540); the explicit one is for hosts where "
    "it is not"
)
_SAME_CODEC = "'UTF-8' and 'utf-8' name the same codec"
_UPDATED_NOW = (
    "the rows among the outcome's ids that the UPDATE just changed are exactly those "
    "with its status and its updated_at (to the microsecond); either filter alone finds "
    "the same rows"
)
_NO_RETRY_LOGGED = (
    "a spooled outcome is applied with a retry window of 0, so no retry is ever "
    "logged and the description is never shown"
)
_HEADERS = (
    "requests' headers are case-insensitive: 'content-length' finds 'Content-Length', "
    "'user-agent' sets 'User-Agent'"
)
_DAEMON = (
    "whether the watchdog thread is a daemon: it is cancelled when its request ends, "
    "so it never outlives it"
)
_EVERY_REQUEST = (
    "the thread's current deadline is read only by connections of the client's own "
    "adapter, and every request of the client first sets it (XunchenClient._post)"
)
_CODEC_NAMES = "codec names are looked up case-insensitively ('UTF-8', 'utf-8', 'GB18030')"
_UTF8_FIRST = (
    "an unknown default encoding is skipped (LookupError), and UTF-8 is the next candidate anyway"
)
_CURRENT_TZ = "make_aware() without a zone uses the current one, as given"
_WIDER_READ = (
    "the messages are read more widely, then looked up by (msgid, mobile): the same "
    "messages are found"
)
_UNION = (
    "the WHERE clause only narrows the rows the filtered counts see; a wider one gives "
    "the same counts"
)
_SAVE_ALL = (
    "every field saved instead of those named: the campaign's row was locked and read in "
    "this transaction and nothing else writes it there, so the other fields are written "
    "with the values they have (post_save's update_fields differs; nothing in the app "
    "listens)"
)
_FORCE_INSERT = "force_insert=False on a row without a primary key inserts it just the same"
_NEWEST = "ids and creation times grow together, so either ordering finds the newest code"
_DEAD_AT_MAX = (
    "attempts reach max_attempts only in the UPDATE that also makes the code dead "
    "(_dead_when_last; nothing else writes either), so a code is dead exactly when its "
    "attempts reached the maximum: testing one of the two finds the same codes"
)
_INT_SLICE = (
    "a slice one character longer takes the space after the field, which int() ignores, "
    "or runs past the end of the text, which gives the same characters"
)
_BODY_DROPPED = (
    "the in-memory body is dropped to free memory once the answer is parsed; nothing reads it after"
)
_CAST = "typing.cast() does nothing at run time"
_FIRST_COLUMN = "values_list(flat=True) without a field gives the first column, the primary key"
_NO_TEMPLATE = "a message without a template id reads its template as None without a query"
_REBUILT = (
    "without the backend already built, Backends builds the same account's backend again "
    "from the same settings"
)
_EITHER_PATH = (
    "the vendor test never matches, so every database takes the subquery path, which "
    "PostgreSQL runs too, to the same statuses; the join is only its faster way"
)
_OWN_CLAIM = (
    "the rows with this claim token are exactly these ids while the request is ours: "
    "either filter alone finds them"
)
_FAIL_SILENTLY = (
    "the backend's fail_silently is read by none of the app's backends: dispatch records "
    "every error itself (it is passed on for a site's own backend)"
)
EQUIVALENT: dict[str, str] = {
    "django_xunchen.polling.locks.xǁDatabaseLockǁ__init____mutmut_7": _HELD,
    "django_xunchen.polling.locks.xǁDatabaseLockǁrefresh__mutmut_9": _HELD,
    "django_xunchen.polling.locks.xǁDatabaseLockǁrelease__mutmut_5": _HELD,
    "django_xunchen.outcomes.spool.x_check_writable__mutmut_11": _PROBE,
    "django_xunchen.outcomes.spool.x_check_writable__mutmut_13": _PROBE,
    "django_xunchen.outcomes.spool.x_check_writable__mutmut_14": _PROBE,
    "django_xunchen.outcomes.spool.x_check_writable__mutmut_15": _PROBE,
    "django_xunchen.outcomes.spool.x_write__mutmut_14": (
        "nine hex digits instead of eight in the file name: names stay unique and sort "
        "by their time prefix"
    ),
    "django_xunchen.outcomes.spool.x_write__mutmut_21": _UTF8,
    "django_xunchen.outcomes.spool.x_write__mutmut_24": _UTF8,
    "django_xunchen.outcomes.spool.x_read__mutmut_2": _UTF8,
    "django_xunchen.outcomes.spool.x_write__mutmut_28": _SAME_CODEC,
    "django_xunchen.outcomes.spool.x_read__mutmut_4": _SAME_CODEC,
    "django_xunchen.outcomes.write.x_land__mutmut_22": _UPDATED_NOW,
    "django_xunchen.outcomes.write.x_land__mutmut_23": _UPDATED_NOW,
    "django_xunchen.outcomes.write.x_apply_spool__mutmut_11": _NO_RETRY_LOGGED,
    "django_xunchen.outcomes.write.x_apply_spool__mutmut_18": _NO_RETRY_LOGGED,
    "django_xunchen.outcomes.write.x_apply_spool__mutmut_19": _NO_RETRY_LOGGED,
    "django_xunchen.client.http.xǁXunchenClientǁ_post__mutmut_20": (
        "'ASCII' and 'ascii' name the same codec"
    ),
    "django_xunchen.client.http.x__read_limited__mutmut_8": (
        "enforce_content_length becomes None instead of False: urllib3 reads it for its truth value"
    ),
    "django_xunchen.client.http.x__read_limited__mutmut_14": (
        "a read size of 65,537 instead of 65,536 bytes: the same bytes arrive"
    ),
    "django_xunchen.client.http.x__read_limited__mutmut_46": _HEADERS,
    "django_xunchen.client.http.x__read_limited__mutmut_47": _HEADERS,
    "django_xunchen.client.http.x__read_limited__mutmut_48": (
        "the default for a missing Content-Length becomes 'XXXX': like '', it is not "
        "digits, so nothing is compared"
    ),
    "django_xunchen.client.http.xǁ_Deadlineǁ__init____mutmut_4": (
        "expired becomes None instead of False: it is only read for its truth value"
    ),
    "django_xunchen.client.http.xǁ_Deadlineǁ__init____mutmut_6": (
        "the socket placeholder becomes '' instead of None: it is replaced by the real "
        "socket before the request's bytes leave, and a watchdog that fires before that "
        "has set expired first, which is what the request reads"
    ),
    "django_xunchen.client.http.xǁ_Deadlineǁ__enter____mutmut_6": _DAEMON,
    "django_xunchen.client.http.xǁ_Deadlineǁ__enter____mutmut_7": _DAEMON,
    "django_xunchen.client.http.xǁ_Deadlineǁ__exit____mutmut_1": _EVERY_REQUEST,
    "django_xunchen.client.http.x__attach_current__mutmut_6": _EVERY_REQUEST,
    "django_xunchen.client.parsing.x_decode_body__mutmut_10": _UTF8_FIRST,
    "django_xunchen.client.parsing.x_decode_body__mutmut_11": _CODEC_NAMES,
    "django_xunchen.client.parsing.x_decode_body__mutmut_17": _CODEC_NAMES,
    "django_xunchen.client.parsing.x_decode_body__mutmut_22": _CODEC_NAMES,
    "django_xunchen.client.parsing.x_decode_body__mutmut_26": _CODEC_NAMES,
    "django_xunchen.client.parsing.x_decode_body__mutmut_28": _CODEC_NAMES,
    "django_xunchen.client.parsing.x_decode_body__mutmut_33": (
        "final=False is the default of IncrementalDecoder.decode"
    ),
    **dict.fromkeys(
        [f"django_xunchen.client.parsing.x__stream__mutmut_{n}" for n in (11, 91, 95, 96, 97)]
        + [f"django_xunchen.client.parsing.x__stream__mutmut_{n}" for n in (100, 104, 105, 106)],
        _CAST,
    ),
    "django_xunchen.client.parsing.x__scan__mutmut_31": (
        "the operation only names a gateway error, and the documents cut before the break "
        "hold the <mt> the stream checked already (an error status raised there)"
    ),
    "django_xunchen.client.parsing.x__scan__mutmut_35": (
        "the body only goes into a MalformedResponseError, which the cuts catch and drop"
    ),
    "django_xunchen.client.parsing.x__stream__mutmut_38": (
        "break for continue on an <mt> read after the break: lxml 6 closes it there only when "
        "the break is inside it, so nothing but the root's end comes after it"
    ),
    "django_xunchen.client.parsing.x__stream__mutmut_62": (
        "del parent[1] for del parent[0]: it removes the record just read (cleared already) "
        "instead of the one before it, so the tree holds as few records either way"
    ),
    "django_xunchen.outcomes.write.x_apply_spool_once_per_process__mutmut_1": (
        "the flag becomes None instead of True: it is only read for its truth value"
    ),
    "django_xunchen.sending.compose.x__aware__mutmut_8": _CURRENT_TZ,
    "django_xunchen.sending.compose.x__aware__mutmut_10": _CURRENT_TZ,
    "django_xunchen.dispatch.queue.x_send_queued__mutmut_69": (
        "a held row that is not yet due may be read, but the claim refuses it "
        "(hold_until <= now), so it is not sent"
    ),
    "django_xunchen.polling.reports.x__messages_by_key__mutmut_5": _WIDER_READ,
    "django_xunchen.polling.reports.x__send_report_signals__mutmut_7": (
        "positions start at 0, so > -2 and > -1 select the same reports"
    ),
    "django_xunchen.verification.throttles.x__judge__mutmut_20": (
        "gateway_day_start(None) reads the same clock as gateway_day_start(now)"
    ),
    "django_xunchen.verification.throttles.x__judge__mutmut_48": _UNION,
    "django_xunchen.verification.throttles.x__judge__mutmut_49": _UNION,
    "django_xunchen.verification.throttles.x__judge__mutmut_52": _UNION,
    "django_xunchen.verification.throttles.x__judge__mutmut_53": _UNION,
    "django_xunchen.verification.throttles.x__judge__mutmut_55": _UNION,
    "django_xunchen.verification.throttles.x__judge__mutmut_58": _UNION,
    "django_xunchen.verification.throttles.x__judge__mutmut_59": _UNION,
    "django_xunchen.verification.codes.x_check_code__mutmut_17": _NEWEST,
    "django_xunchen.verification.codes.x__reserve__mutmut_8": _NEWEST,
    "django_xunchen.verification.codes.x__reserve__mutmut_9": _NEWEST,
    "django_xunchen.verification.codes.x__send__mutmut_2": (
        "without the backend already built, Backends builds the same account's backend "
        "again from the same settings"
    ),
    "django_xunchen.verification.codes.x_client_ip__mutmut_27": (
        "ip_address(None) raises ValueError, which returns None as the original does"
    ),
    "django_xunchen.verification.codes.x_request_code__mutmut_105": (
        "_reserve returns both the row and the record, or neither"
    ),
    "django_xunchen.verification.codes.x_derive_code__mutmut_17": (
        "int.from_bytes' byte order defaults to 'big' from Python 3.11, which the mutation "
        "run uses (on 3.10 the call fails, which the 3.10 matrix run would catch)"
    ),
    "django_xunchen.verification.throttles.x__wait_for__mutmut_40": (
        "reached only when the requests counted a moment earlier under the bucket lock are "
        "gone, which the lock prevents"
    ),
    "django_xunchen.verification.throttles.x__judge__mutmut_91": (
        "without an IP the IP throttle is never applied (bool(ip) and ...), whatever it counts"
    ),
    "django_xunchen.verification.codes.x_check_code__mutmut_74": _DEAD_AT_MAX,
    "django_xunchen.verification.codes.x_check_code__mutmut_38": _DEAD_AT_MAX,
    "django_xunchen.verification.codes.x_check_code__mutmut_40": _DEAD_AT_MAX,
    "django_xunchen.verification.codes.x_check_code__mutmut_18": _NEWEST,
    "django_xunchen.verification.codes.x_request_code__mutmut_23": _FAIL_SILENTLY,
    "django_xunchen.verification.codes.x_request_code__mutmut_25": _FAIL_SILENTLY,
    "django_xunchen.verification.codes.x_request_code__mutmut_26": _FAIL_SILENTLY,
    "django_xunchen.verification.codes.x_request_code__mutmut_29": (
        "resolve_template(None, account) returns None, as the shortcut does"
    ),
    "django_xunchen.outcomes.spool.x_write__mutmut_31": (
        "ensure_ascii becomes None instead of False: json reads it for its truth value"
    ),
    **dict.fromkeys(
        [
            f"django_xunchen.dispatch.claim.x__update_returns_rows__mutmut_{n}"
            for n in (1, 2, 3, 4, 8, 10, 11)
        ],
        "both ways of claiming find the same rows (UPDATE … RETURNING, or an UPDATE and a "
        "SELECT by the claim token); the run's SQLite is 3.40, past either threshold, and "
        "PostgreSQL is not in the run",
    ),
    "django_xunchen.dispatch.claim.x__move__mutmut_7": _OWN_CLAIM,
    "django_xunchen.dispatch.claim.x__move__mutmut_8": _OWN_CLAIM,
    "django_xunchen.dispatch.fallback.x_fallbacks__mutmut_14": (
        "`there` starts as the template only when there is none; otherwise it is looked up"
    ),
    "django_xunchen.dispatch.submit.xǁBackendsǁget_unopened__mutmut_5": _FAIL_SILENTLY,
    "django_xunchen.dispatch.submit.xǁBackendsǁget_unopened__mutmut_8": _FAIL_SILENTLY,
    "django_xunchen.dispatch.submit.xǁBackendsǁget_unopened__mutmut_9": _FAIL_SILENTLY,
    "django_xunchen.dispatch.queue.x_send_queued__mutmut_78": (
        "without the id as a tiebreak, SQLite still returns rows of the same creation time "
        "in rowid order, which is the id's; the tiebreak is for PostgreSQL"
    ),
    "django_xunchen.client.parsing.x_parse_time__mutmut_25": _INT_SLICE,
    "django_xunchen.client.parsing.x_parse_time__mutmut_34": _INT_SLICE,
    "django_xunchen.client.parsing.x__report__mutmut_49": (
        "a missing time read as mutmut's filler text instead of '': neither is a time, both "
        "give None"
    ),
    "django_xunchen.client.parsing.x__drain_quietly__mutmut_1": (
        "lxml hands out the events it kept before a syntax error without raising it again "
        "(checked on mismatched tags, an undefined entity, a control character); the "
        "suppress guards versions that would"
    ),
    "django_xunchen.polling.ingest.x__ingest__mutmut_15": (
        "the operation of the RawResponse handed to scan_reports/scan_inbound: the app's "
        "backends read only its body"
    ),
    "django_xunchen.polling.ingest.x__ingest__mutmut_19": _BODY_DROPPED,
    "django_xunchen.polling.ingest.x__ingest__mutmut_20": _BODY_DROPPED,
    "django_xunchen.polling.ingest.x__ingest__mutmut_88": _CAST,
    "django_xunchen.polling.ingest.x__ingest__mutmut_107": _CAST,
    "django_xunchen.polling.journal.x__note_attempt__mutmut_17": (
        "a success at the very moment of the last one writes the same time"
    ),
    "django_xunchen.polling.reports.x__message_ids__mutmut_12": _WIDER_READ,
    **dict.fromkeys(
        [
            f"django_xunchen.client.http.xǁXunchenClientǁ_new_session__mutmut_{n}"
            for n in (6, 7, 9, 10)
        ],
        "the size of the connection pool: a client talks to one host, one request at a time "
        "(each sending thread has a client of its own)",
    ),
    "django_xunchen.client.http.xǁXunchenClientǁ_new_session__mutmut_23": (
        "requests matches mount prefixes without regard to case"
    ),
    "django_xunchen.client.http.xǁXunchenClientǁ_new_session__mutmut_26": _HEADERS,
    "django_xunchen.client.http.xǁXunchenClientǁ_post__mutmut_35": _HEADERS,
    "django_xunchen.client.http.xǁXunchenClientǁ_post__mutmut_36": _HEADERS,
    "django_xunchen.client.http.xǁXunchenClientǁ_post__mutmut_45": (
        "allow_redirects becomes None instead of False: requests reads it for its truth value"
    ),
    "django_xunchen.polling.reports.x__apply_reports__mutmut_20": _EITHER_PATH,
    "django_xunchen.polling.reports.x__apply_reports__mutmut_21": _EITHER_PATH,
    "django_xunchen.polling.reports.x__apply_reports__mutmut_32": (
        "values_list(flat=True) without a field gives the first column, the primary key"
    ),
    "django_xunchen.polling.reports.x__recover__mutmut_15": (
        "looking up no msgid: both look-ups (_message_ids, _messages_by_key) return {} "
        "for an empty set before any query"
    ),
    **dict.fromkeys(
        [f"django_xunchen.polling.reports.x__store_reports__mutmut_{n}" for n in (79, 80, 81, 82)],
        "a wider choice of reports to apply: the reports of earlier entries and chunks have "
        "moved their messages already (delivered ones are no longer reportable, and an "
        "undelivered message is left out of a failure), later chunks are not stored yet, "
        "and an unmatched report has no message to move",
    ),
    "django_xunchen.polling.replies.x__store_inbound__mutmut_20": _WIDER_READ,
    "django_xunchen.outcomes.write.x_land__mutmut_25": _FIRST_COLUMN,
    "django_xunchen.outcomes.write.x_land__mutmut_30": _UPDATED_NOW,
    "django_xunchen.outcomes.write.x_land__mutmut_31": _UPDATED_NOW,
    "django_xunchen.client.http.xǁXunchenClientǁ__init____mutmut_2": _CODEC_NAMES,
    "django_xunchen.client.http.xǁXunchenClientǁ__init____mutmut_20": (
        "a deadline of 0 is falsy and becomes None (no deadline) before this test"
    ),
    "django_xunchen.client.http.xǁXunchenClientǁ_new_session__mutmut_27": _HEADERS,
    "django_xunchen.client.http.xǁXunchenClientǁ_new_session__mutmut_28": (
        "trust_env becomes None instead of True: requests reads it for its truth value"
    ),
    "django_xunchen.client.http.xǁ_WatchedAdapterǁinit_poolmanager__mutmut_2": (
        "the only keyword HTTPAdapter passes is block, whose default is the same False"
    ),
    "django_xunchen.sending.send.x_send_sms__mutmut_10": _FAIL_SILENTLY,
    "django_xunchen.sending.send.x_send_sms__mutmut_13": _FAIL_SILENTLY,
    "django_xunchen.sending.send.x_send_sms__mutmut_57": _REBUILT,
    "django_xunchen.sending.send.x_send_sms__mutmut_59": _REBUILT,
    "django_xunchen.dispatch.submit.x__group_key__mutmut_4": (
        "the stand-in for a template message's text in the grouping key: keys are only "
        "compared with each other, and every template message gets the same one"
    ),
    "django_xunchen.dispatch.submit.x__group_key__mutmut_6": (
        "empty params dumped as JSON instead of by repr(): a key is only compared with "
        "other keys, and either way each distinct params value gets its own string"
    ),
    "django_xunchen.dispatch.claim.x__claim__mutmut_24": (
        "values_list(flat=True) without a field name yields each row's first column, which "
        "is its primary key, as values_list('pk', flat=True) does"
    ),
    "django_xunchen.dispatch.submit.x__attempt__mutmut_65": (
        "_not_sent() reads the rows only to requeue them after a NotSentError or when held; "
        "here the error is an account's refusal (a GatewayError) and held is False"
    ),
    "django_xunchen.dispatch.submit.x__request_for__mutmut_40": (
        "the first two numbers checked instead of the first: every number was validated "
        "when its row was written, so the check passes either way (one is for speed)"
    ),
    "django_xunchen.dispatch.submit.x__request_for__mutmut_46": (
        "params passed without a template: a row without one has empty params (refused at "
        "write, 'params are only used with a template'), which the request ignores"
    ),
    "django_xunchen.dispatch.submit.x__group_key__mutmut_12": (
        "every empty params keyed as repr(None): the field is not nullable, so the only "
        "empty params is {}, whose key is the same for every row either way"
    ),
    "django_xunchen.dispatch.submit.x__attempt__mutmut_5": (
        "request_started becomes None instead of False: it is only read for its truth value"
    ),
    "django_xunchen.dispatch.submit.x__attempt__mutmut_45": (
        "the error also goes with a requeued outcome: it is read only for the "
        "message_failed signal, which a queued row does not get"
    ),
    "django_xunchen.dispatch.submit.x__request_for__mutmut_48": (
        "a message without a template is stored with empty params (prepare_messages "
        "refuses params without one), and empty params are read as none"
    ),
    "django_xunchen.dispatch.submit.x__request_for__mutmut_7": (
        "a send time equal to the present to the microsecond: it is due either way"
    ),
    "django_xunchen.dispatch.submit.x__request_for__mutmut_12": _NO_TEMPLATE,
    "django_xunchen.dispatch.claim.x__claim__mutmut_21": _FIRST_COLUMN,
    "django_xunchen.dispatch.submit.x__request_for__mutmut_42": (
        "the numbers were validated when the rows were written; checking the first two "
        "instead of the first finds nothing more"
    ),
    "django_xunchen.client.http.xǁXunchenClientǁ_new_session__mutmut_8": (
        "HTTPAdapter's own default for max_retries is 0"
    ),
    "django_xunchen.policy.words.x_learn_blocked_words__mutmut_15": (
        "the generation grows by two instead of one: it is only compared with the one a "
        "cache of the words was filled at (sending/admission._cached_words)"
    ),
    "django_xunchen.sending.send.x_resend__mutmut_15": (
        "blocked_words() reads the account only when it is given no words, and resend "
        "always gives it the account's"
    ),
    "django_xunchen.sending.admission.x_may_route__mutmut_42": (
        "the kind matters to blocked_words() only for a verification code, whose words are "
        "[] here: no word is found either way"
    ),
    "django_xunchen.sending.compose.x_prepare_messages__mutmut_32": _TEMPLATE_TEXT,
    "django_xunchen.sending.compose.x_prepare_messages__mutmut_34": _TEMPLATE_TEXT,
    "django_xunchen.sending.compose.x_prepare_messages__mutmut_67": (
        "the request is built to check and render the text, params and extcode, none of "
        "which depends on the numbers, all of them validated just before: two numbers "
        "instead of one change nothing it returns"
    ),
    "django_xunchen.sending.compose.x_prepare_messages__mutmut_107": _PROTOTYPE_MOBILE,
    "django_xunchen.sending.compose.x_prepare_messages__mutmut_121": _PROTOTYPE_MOBILE,
    "django_xunchen.sending.compose.x_prepare_messages__mutmut_130": (
        "Message.batch defaults to a new uuid4 for the prototype, which clone_for copies "
        "to every row, as it copies the explicit one"
    ),
    "django_xunchen.dispatch.submit.x__submit__mutmut_69": _NO_TEMPLATE,
    "django_xunchen.dispatch.submit.x__submit__mutmut_37": (
        "with every row claimed the unclaimed list is empty, and Django runs no query for "
        "an update or a read of pk__in=[]"
    ),
    "django_xunchen.sending.admission.x__goes_out__mutmut_5": (
        "when the row is due exactly now, returning its due time or now is the same moment"
    ),
    "django_xunchen.sending.admission.x_at_submit__mutmut_57": (
        "the kind matters to blocked_words() only for a verification code, whose words are "
        "[] here: no word is found either way"
    ),
    "django_xunchen.sending.admission.x__later__mutmut_12": _LATER,
    "django_xunchen.sending.admission.x__later__mutmut_15": _LATER,
    "django_xunchen.verification.codes.x_send_notice__mutmut_30": _FORCE_INSERT,
    "django_xunchen.verification.codes.x__reserve__mutmut_131": _FORCE_INSERT,
    "django_xunchen.verification.codes.x__send__mutmut_43": (
        "a code's row is never suppressed or held and is claimed at once, so a row that "
        "did not go out always comes with its error: outcome.errors is never empty there"
    ),
    "django_xunchen.verification.codes.x__send__mutmut_48": (
        "sends <= 2 for sends <= 1 before the UPDATE: the UPDATE's own sends__lte=1 "
        "decides; the test before it only saves a query"
    ),
    "django_xunchen.verification.codes.x_hash_code__mutmut_7": (
        "'UTF-8' for 'utf-8': Python's codec names are read without regard to case"
    ),
    "django_xunchen.polling.fetch.x__from_log__mutmut_12": (
        "'ASCII' and 'ascii' name the same codec"
    ),
    "django_xunchen.polling.fetch.x__from_log__mutmut_13": (
        "'' instead of None for what is not a bytes literal: neither is bytes, and the same "
        "ValueError follows"
    ),
    "django_xunchen.outcomes.spool.x_load__mutmut_14": _SAME_CODEC,
    "django_xunchen.outcomes.spool.x_check_writable__mutmut_7": _PROBE,
    **dict.fromkeys(
        [f"django_xunchen.outcomes.spool.x_check_writable__mutmut_{n}" for n in (20, 23)],
        "the probe's permission bits: the descriptor is opened for writing as the file is "
        "created, so the write succeeds whatever the mode, and the file is removed at once",
    ),
    "django_xunchen.dispatch.submit.x__not_sent__mutmut_14": (
        "the error also goes with a queued outcome: only the failure signal (failed, "
        "unknown) reads it"
    ),
    **dict.fromkeys(
        [f"django_xunchen.dispatch.submit.x__not_sent__mutmut_{n}" for n in (29, 32, 35)],
        "only ACCOUNT_ERRORS reach this branch, all GatewayErrors, whose __init__ always "
        "sets .code: the default is never read",
    ),
    **dict.fromkeys(
        [f"django_xunchen.dispatch.submit.x__not_sent__mutmut_{n}" for n in (26, 38, 44, 45)],
        "no class of ACCOUNT_ERRORS has .words (only the blocked-words errors do): the "
        "words are [] either way",
    ),
    **dict.fromkeys(
        [
            "django_xunchen.campaigns.figures.x_preview__mutmut_8",
            "django_xunchen.campaigns.lifecycle.x__messages__mutmut_7",
        ],
        "None instead of [] for the checker's words: only Checker.check() reads them, and "
        "this path calls render, count_parts and needed only",
    ),
    "django_xunchen.campaigns.lifecycle.x__confirm__mutmut_57": (
        "[:2] instead of [:1]: staging refuses a number twice in a campaign, so the "
        "subquery finds one message per number either way"
    ),
    "django_xunchen.campaigns.lifecycle.x__confirm__mutmut_63": _SAVE_ALL,
    "django_xunchen.polling.rows.x__limits__mutmut_1": (
        "every text column with a length is also a CharField on the models it reads "
        "(InboundMessage: account, mobile, recvcode, extcode), so 'or' selects the same"
    ),
    "django_xunchen.campaigns.lifecycle.x_cancel__mutmut_28": _SAVE_ALL,
    "django_xunchen.campaigns.lifecycle.x_pause__mutmut_20": _SAVE_ALL,
    "django_xunchen.campaigns.lifecycle.x_resume__mutmut_42": _SAVE_ALL,
    "django_xunchen.campaigns.lifecycle.x__messages__mutmut_26": (
        "chunk_size=None: Django fetches 2,000 rows at a time instead of 10,000, the same "
        "rows in the same order"
    ),
    **dict.fromkeys(
        [f"django_xunchen.campaigns.lifecycle.x__messages__mutmut_{n}" for n in (40, 41, 43)],
        "a text without @n@ placeholders renders the same whatever the values, and its "
        "params are {}, the model's default",
    ),
    **dict.fromkeys(
        [f"django_xunchen.campaigns.lifecycle.x__messages__mutmut_{n}" for n in (57, 67, 78)],
        "the prototype's number: clone_for gives every row its own, and the prototype is "
        "never saved",
    ),
    **dict.fromkeys(
        [f"django_xunchen.campaigns.lifecycle.x__messages__mutmut_{n}" for n in (80, 82)],
        "the prototype's content where the text differs per row: every row's content is "
        "rendered again for its own values",
    ),
    "django_xunchen.campaigns.lifecycle.x__messages__mutmut_85": (
        "or 2 instead of or 1: a fixed part count is at least 1 when it is not None, and "
        "when it is None each row's parts are set afterwards"
    ),
    **dict.fromkeys(
        [f"django_xunchen.campaigns.lifecycle.x__messages__mutmut_{n}" for n in (96, 99, 100)],
        "zip's strict flag: clone_for returns exactly one row per number, so the lists "
        "are always of the same length",
    ),
    "django_xunchen.campaigns.lifecycle.x__enqueue__mutmut_6": (
        "'pk' left out of only(): Django always loads the primary key"
    ),
    **dict.fromkeys(
        [f"django_xunchen.campaigns.text.x_check_campaign__mutmut_{n}" for n in (20, 22)],
        "with a template, admission.text() reads only the template's body, never the "
        "content or account it is also given, and the result is not kept",
    ),
    "django_xunchen.campaigns.staging.x_find_mapping__mutmut_89": (
        "the header is lower-cased before it is stripped, so the 'X' added to the "
        "characters stripped never occurs"
    ),
    **dict.fromkeys(
        [
            "django_xunchen.campaigns.staging.xǁFirstRowsǁ__init____mutmut_7",
            "django_xunchen.campaigns.staging.xǁFirstRowsǁ_grow__mutmut_7",
        ],
        "a signed array instead of an unsigned one: every number stored is an 11-digit "
        "mobile (under 2**35), so number << 28 | row stays under 2**63",
    ),
    **dict.fromkeys(
        [
            f"django_xunchen.campaigns.staging.xǁFirstRowsǁ_find__mutmut_{n}"
            for n in (14, 15, 17, 18)
        ],
        "the probe's perturbation still runs out (to 0 or past the mask), and from then "
        "the step 5i±1 visits every slot of a power-of-two table: the same answers, "
        "another slot for a number",
    ),
    "django_xunchen.campaigns.staging.xǁCheckerǁcheck__mutmut_27": (
        "an empty cell reads as no number either way: normalize_mobile(excel_number('')) "
        "is None, as the other branch gives"
    ),
    "django_xunchen.campaigns.staging.xǁCheckerǁcheck__mutmut_87": (
        "the text's first value is only compared with 300 characters before it is "
        "replaced, and 4 characters is as far under as none"
    ),
    "django_xunchen.campaigns.staging.xǁCheckerǁcheck__mutmut_90": (
        "validate=None instead of False: it is only read for its truth value"
    ),
    **dict.fromkeys(
        [
            "django_xunchen.campaigns.staging.xǁCheckerǁcheck__mutmut_116",
            "django_xunchen.campaigns.staging.x_prepare__mutmut_44",
        ],
        "the kind matters to blocked_words() only for a verification code, and a campaign "
        "is marketing or a notification",
    ),
    **dict.fromkeys(
        [
            "django_xunchen.campaigns.staging.xǁCheckerǁcheck__mutmut_117",
            "django_xunchen.campaigns.staging.x_prepare__mutmut_45",
        ],
        "blocked_words() reads the account only when it is given no words, and here it "
        "is given the account's",
    ),
    "django_xunchen.campaigns.staging.xǁCheckerǁrender__mutmut_4": (
        "without placeholders the values are {}, and normalize_params({}) is () either way"
    ),
    "django_xunchen.campaigns.staging.x_prepare__mutmut_39": (
        "without placeholders render() never reads its values"
    ),
    "django_xunchen.campaigns.staging.x_prepare__mutmut_40": (
        "without the fixed part count each row takes the per-row way, which gives the "
        "same parts and problems for a text without placeholders, already checked: only "
        "slower"
    ),
    **dict.fromkeys(
        [f"django_xunchen.campaigns.staging.xǁStagingǁclose__mutmut_{n}" for n in (3, 6, 9)]
        + [f"django_xunchen.campaigns.staging.x_prepare__mutmut_{n}" for n in (63, 66, 69)],
        "the fallback for rows without close(): the rows are always read_rows()'s "
        "generator, which has it",
    ),
    **dict.fromkeys(
        [f"django_xunchen.outcomes.recovery.x_recover__mutmut_{n}" for n in (34, 35, 36, 43, 48)],
        "the candidates read more widely (no mobile filter, a looser time bound): the "
        "loop looks up only the reports' mobiles, and its own check of the time window "
        "rejects every row the wider bounds add",
    ),
    "django_xunchen.policy.suppression.x_suppress__mutmut_48": (
        "every field saved instead of those changed: the entry was read under "
        "select_for_update in this transaction, and nothing listens to its post_save"
    ),
    "django_xunchen.policy.suppression.x_suppress_many__mutmut_6": (
        "a signed array instead of an unsigned one: validated numbers are 11-digit mobiles"
    ),
    "django_xunchen.policy.suppression.x_suppress_many__mutmut_88": (
        "values_list(flat=True) without a field gives the first column, the primary key"
    ),
    **dict.fromkeys(
        [f"django_xunchen.verification.codes.x__throttled__mutmut_{n}" for n in (15, 17, 18)],
        _FAIL_SILENTLY,
    ),
    "django_xunchen.verification.codes.x__throttled__mutmut_21": (
        "resolve_template(None, account) returns None, as the shortcut does"
    ),
    "django_xunchen.client.parsing.x__has_required_fields__mutmut_15": (
        "only reports and replies are salvaged from a broken body (scan_reports, "
        "scan_inbound), and each has its own branch: the last line is never reached"
    ),
    "django_xunchen.client.parsing.x_parse_xml__mutmut_36": (
        "the parser never recovers (recover=False), so fromstring() returns an element "
        "or raises: root is never None, and every element has a tag"
    ),
    "django_xunchen.client.parsing.xǁ_Brokenǁ__init____mutmut_1": (
        "the exception's own message: _Broken never leaves the module (_scan and "
        "_whole_records catch it), and its error is read from .error"
    ),
    **dict.fromkeys(
        [f"django_xunchen.client.parsing.x__whole_records__mutmut_{n}" for n in (32, 36)],
        "the operation and the body of a cut that is tried again reach only errors that "
        "_whole_records catches: a refusal in <mt> was raised by the first reading, before "
        "the break",
    ),
    "django_xunchen.verification.codes.x__throttled__mutmut_93": (
        "both reserve() functions return a row and its wire together, and neither is set "
        "when reserve() is not called: both are None or neither (the test narrows types)"
    ),
    "django_xunchen.verification.throttles.x_ip_key__mutmut_20": (
        "strict=None instead of strict=False: ipaddress reads it for truth"
    ),
    "django_xunchen.polling.reports.x__latency__mutmut_2": (
        "without an output field, Django infers one from a datetime minus a datetime: "
        "a DurationField, the one given"
    ),
    "django_xunchen.policy.suppression.x_apply_bounces__mutmut_25": (
        "the reports read newest first without grouping by number: each number still "
        "keeps its own newest ones (the lists are per number); the order by number "
        "follows the index"
    ),
    "django_xunchen.policy.suppression.x__insert__mutmut_21": (
        "the conflict target of an IGNORE suffix: PostgreSQL writes ON CONFLICT DO NOTHING "
        "without it, SQLite and MySQL give no suffix at all"
    ),
    "django_xunchen.polling.ingest.x__ingest__mutmut_11": (
        "bytes() of the body whatever its type: bytes of bytes are a copy of them, so the "
        "test only spares a copy (psycopg2's memoryview is converted either way)"
    ),
    "django_xunchen.polling.fetch.x__journal_kept_answers__mutmut_24": (
        "AnswerKept(fetched=None) for fetched=False: it is only read for its truth"
    ),
    "django_xunchen.polling.fetch.x__fetch_and_journal__mutmut_7": (
        "error starts as None instead of '': it is only read for its truth, and passed on "
        "only when true"
    ),
    "django_xunchen.polling.replies.x__rematch_orphans__mutmut_96": (
        "= for += on the poll result's count of ambiguous reports: poll() gives each "
        "account group a new PollResult, and this pass, run once on it, is the only one "
        "that counts them (ingest leaves them to it), so the count was 0 before"
    ),
    **dict.fromkeys(
        [f"django_xunchen.polling.reports.x__update_from_firsts__mutmut_{n}" for n in (32, 36, 39)],
        "a line of SQL in capitals or in small letters: PostgreSQL folds unquoted keywords "
        "and names to small letters (survived on PostgreSQL)",
    ),
}

_ONE_OF_MODEL = "one_of() reads the model only for PostgreSQL's array form; the run uses SQLite"
_SQLITE_SUBQUERY = (
    "a scalar subquery limited to two rows: SQLite takes the first, as [:1] does; "
    "PostgreSQL would refuse it, and the mutation run uses SQLite"
)

#: Mutants this run cannot judge: not survivors, but not killed either; reported apart
#: and left out of the score. A whole function (a name ending in "__") or one mutant
#: → why.
UNMEASURED: dict[str, str] = {
    "django_xunchen.polling.reports.x__write_statuses__mutmut_33": _SQLITE_SUBQUERY,
    "django_xunchen.polling.reports.x__write_statuses__mutmut_42": _SQLITE_SUBQUERY,
    "django_xunchen.polling.replies.x__rematch_orphans__mutmut_83": _SQLITE_SUBQUERY,
    **dict.fromkeys(
        [f"django_xunchen.polling.journal.x__journal__mutmut_{n}" for n in range(14, 21)],
        "the binary insert of an answer of 1 MB or more, on PostgreSQL only; the run uses SQLite",
    ),
    **dict.fromkeys(
        [f"django_xunchen.polling.reports.x__apply_reports__mutmut_{n}" for n in range(76, 84)],
        "the arguments of _update_from_firsts, which runs on PostgreSQL only; the run uses SQLite",
    ),
    **dict.fromkeys(
        [f"django_xunchen.polling.reports.x__apply_reports__mutmut_{n}" for n in (63, 72)],
        "a scalar subquery limited to two rows on the path of databases other than "
        "PostgreSQL: SQLite takes the first, as [:1] does; MySQL would refuse it, and "
        "neither the run nor the suite has MySQL",
    ),
    "django_xunchen.polling.reports.x__store_reports__mutmut_70": (
        "the inserted rows are read by the PostgreSQL join only; the run uses SQLite"
    ),
    **dict.fromkeys(
        [
            f"django_xunchen.polling.reports.x__store_reports__mutmut_{n}"
            for n in (8, 9, 64, 65, 66)
        ],
        "analyze_if_stale() returns at once on SQLite; the PostgreSQL step runs "
        "tests/models/test_planner_statistics.py::"
        "test_a_large_poll_on_a_new_install_analyses_both_tables_first",
    ),
    "django_xunchen.polling.replies.x__store_inbound__mutmut_14": (
        "without the id as a tiebreak, SQLite still returns messages of the same "
        "submission time newest first; the tiebreak is for PostgreSQL"
    ),
    **dict.fromkeys(
        [
            f"django_xunchen.dispatch.submit.x__concurrency__mutmut_{n}"
            for n in (3, 4, *range(9, 28))
        ],
        "PostgreSQL only: on SQLite _concurrency() returns 1 before these lines, and the "
        "run uses SQLite (the PostgreSQL step runs "
        "test_requests_go_one_at_a_time_on_sqlite_and_inside_a_transaction)",
    ),
    **dict.fromkeys(
        [f"django_xunchen.dispatch.submit.x_dispatch__mutmut_{n}" for n in range(46, 55)],
        "the threaded path, taken on PostgreSQL only (one request at a time on SQLite); "
        "the run uses SQLite, and the PostgreSQL step runs tests/dispatch/test_concurrency.py",
    ),
    **dict.fromkeys(
        [
            "django_xunchen.sending.admission.x_expire__mutmut_8",
            "django_xunchen.sending.admission.x_suppress_unclaimed__mutmut_12",
        ],
        _ONE_OF_MODEL + " (tests/sending/test_admission_after_claim.py, on PostgreSQL)",
    ),
    **dict.fromkeys(
        [f"django_xunchen.polling.reports.x__write_statuses__mutmut_{n}" for n in (41, 50)],
        _SQLITE_SUBQUERY + " (tests/polling/test_rematch_edges.py::"
        "test_a_message_with_two_reports_of_its_outcome_matched_later_takes_the_first)",
    ),
    "django_xunchen.dispatch.queue.x_send_queued__mutmut_80": (
        "the tiebreak by id of rows written at the same moment: SQLite returns them by "
        "rowid anyway, PostgreSQL after an UPDATE does not "
        "(tests/dispatch/test_dispatch_edges.py::"
        "test_rows_created_at_the_same_moment_go_in_the_order_they_were_written)"
    ),
    **dict.fromkeys(
        [f"django_xunchen.campaigns.lifecycle.x__confirm__mutmut_{n}" for n in (36, 37)],
        "analyze_if_stale() returns at once on SQLite; the PostgreSQL step runs "
        "tests/campaigns/test_lifecycle_edges.py::"
        "test_a_large_confirm_gives_a_never_analysed_message_table_its_statistics",
    ),
    **dict.fromkeys(
        [f"django_xunchen.policy.suppression.x_suppress_many__mutmut_{n}" for n in (25, 95)],
        _ONE_OF_MODEL + " (tests/policy/test_suppression_edges.py::"
        "test_an_import_of_many_numbers_is_written_and_announced, on PostgreSQL)",
    ),
    **dict.fromkeys(
        [
            "django_xunchen.dispatch.submit.x__submit__mutmut_29",
            "django_xunchen.sending.admission.x_at_submit__mutmut_16",
        ],
        _ONE_OF_MODEL + " (tests/dispatch/test_concurrency.py::"
        "test_concurrency_sends_requests_at_once_each_number_once: requests of 100 rows)",
    ),
    "django_xunchen.dispatch.submit.x__submit__mutmut_143": (
        "only another thread adds to `down` while a request is in flight: the routes are "
        "filtered by it before the loop, and one thread adds only the account it tried "
        "(tests/dispatch/test_concurrency.py::"
        "test_a_fallback_found_down_by_another_thread_is_not_tried_again, on PostgreSQL)"
    ),
    "django_xunchen.outcomes.write.x_land__mutmut_10": _ONE_OF_MODEL,
    "django_xunchen.outcomes.write.x_land__mutmut_33": _ONE_OF_MODEL,
    "django_xunchen.policy.suppression.x_suppressed__mutmut_13": (
        _ONE_OF_MODEL + " (tests/policy/test_suppression_edges.py::"
        "test_the_entries_of_many_numbers_are_read_at_once, on PostgreSQL)"
    ),
    "django_xunchen.polling.reports.x__message_ids__mutmut_14": (
        "one_of() reads the model only for PostgreSQL's array form; the run uses SQLite"
    ),
    "django_xunchen.polling.journal.x__insert_binary__": (
        "PostgreSQL only (answers of 1 MB and more), and make mutation runs the SQLite "
        "suite; the PostgreSQL step of make test covers it (tests/polling/test_ingest_batches.py)"
    ),
    "django_xunchen.polling.reports.x__update_from_firsts__": (
        "PostgreSQL only, and make mutation runs the SQLite suite; the PostgreSQL step of "
        "make test covers it (tests/polling/test_ingest_batches.py, test_matching.py)"
    ),
    **dict.fromkeys(
        [f"django_xunchen.policy.suppression.x__insert__mutmut_{n}" for n in (20, 22, 38)],
        "the ON CONFLICT DO NOTHING suffix, written on PostgreSQL only (SQLite's INSERT OR "
        "IGNORE needs none); the PostgreSQL step runs tests/policy/test_suppression_edges.py::"
        "test_a_number_another_writer_put_on_the_list_meanwhile_stays_as_it_is",
    ),
    "django_xunchen.dispatch.submit.x__submit_in_threads__": (
        "runs in worker threads (CONCURRENCY > 1), where mutmut cannot tell which test "
        "reached it; tests/dispatch/test_concurrency.py covers it"
    ),
}


def sync_data_files() -> int:
    """Copy the package's non-Python files (templates, translations, static files) into
    ``mutants/``. mutmut copies them only when it creates the folder, so after a change an
    incremental run would test against the old templates; returns how many it copied."""
    copied = 0
    target_root = ROOT / "mutants"
    if not target_root.is_dir():
        return copied
    for source in (ROOT / "django_xunchen").rglob("*"):
        if not source.is_file() or source.suffix in (".py", ".pyc"):
            continue
        target = target_root / source.relative_to(ROOT)
        if target.exists() and target.read_bytes() == source.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied += 1
    return copied


def modules() -> list[str]:
    """The scope: ``[tool.mutmut] only_mutate`` in pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text()
    try:
        import tomllib
    except ImportError:  # Python 3.10
        block = re.search(r"^only_mutate = \[(.*?)\]", text, re.MULTILINE | re.DOTALL)
        lines = block.group(1).splitlines() if block else []
        return [m for line in lines for m in re.findall(r'^\s*"([^"]+)"', line)]
    return tomllib.loads(text)["tool"]["mutmut"]["only_mutate"]


FIELDS = ("durations_by_key", "estimated_durations_by_key", "type_check_error_by_key")


def read_record(path: Path) -> dict | None:
    """A mutmut record, or None when the file is missing or unreadable (mutmut rewrites it
    in place after every mutant: a run killed at that moment leaves it cut short)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("exit_code_by_key"), dict):
        return None
    return record


def write_record(path: Path, record: dict) -> bool:
    """Write ``record`` at ``path`` whole or not at all; False when it was there already."""
    text = json.dumps(record, indent=1, sort_keys=True) + "\n"
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)
    return True


def stored(module: str) -> dict | None:
    """The record of ``module`` for its current functions, from this machine's
    (:file:`mutants/`) and the one kept in the repository (:data:`KEPT`): per mutant, a
    result recorded for its function as it is now (by mutmut's hash), this machine's
    first; None when neither place has a record."""
    from mutmut.mutation.file_mutation import compute_function_hashes
    from mutmut.utils.format_utils import get_mutant_name

    records = [
        r
        for r in (
            read_record(ROOT / "mutants" / f"{module}.meta"),
            read_record(KEPT / f"{module}.meta"),
        )
        if r is not None
    ]
    source = ROOT / module
    if not records or not source.exists():
        return None
    current = compute_function_hashes(source.read_text())
    prefix = get_mutant_name(Path(module), "")
    out: dict = {"exit_code_by_key": {}, "hash_by_function_name": {}, **{f: {} for f in FIELDS}}
    for record in records:
        hashes = record.get("hash_by_function_name", {})
        for key, code in record["exit_code_by_key"].items():
            function = key.removeprefix(prefix).rpartition("__mutmut_")[0]
            if function not in current or hashes.get(function) != current[function]:
                continue  # recorded for another version of the function
            out["hash_by_function_name"][function] = current[function]
            if out["exit_code_by_key"].get(key) is None:
                out["exit_code_by_key"][key] = code
                for name in FIELDS:
                    if key in record.get(name, {}):
                        out[name][key] = record[name][key]
    return out


def results() -> dict[str, dict[str, int | None] | None]:
    """Each module's mutants for its current code, with their result, or None when there
    is no record of the module at all.

    The mutants are those mutmut makes of the source as it is now (its own generator, so
    a function added since the last run brings its mutants, without a result). A
    recorded result stands only where the function's hash (mutmut's, of its syntax tree)
    is the one it was recorded for (:func:`stored`): a changed function's mutants have
    none, whatever the files' times say, on this machine or another."""
    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    by_module: dict[str, dict[str, int | None] | None] = {}
    for module in modules():
        record = stored(module)
        if record is None:
            by_module[module] = None
            continue
        current = mutate_file_contents(module, (ROOT / module).read_text())
        recorded = record["exit_code_by_key"]
        by_module[module] = {
            key: recorded.get(key)
            for key in (get_mutant_name(Path(module), name) for name in current.mutant_names)
        }
    return by_module


def restore() -> int:
    """Before a run: give :file:`mutants/` every result kept in the repository for the
    current functions (:func:`stored`). A module whose record changed has its mutated
    copy removed, so that mutmut makes it again and merges the results by function hash
    (it trusts the record of a copy newer than its source as it is). Returns how many
    records it wrote."""
    restored = 0
    for module in modules():
        if read_record(KEPT / f"{module}.meta") is None:
            continue
        record = stored(module)
        local = read_record(ROOT / "mutants" / f"{module}.meta")
        if record is None or (local and local["exit_code_by_key"] == record["exit_code_by_key"]):
            continue
        write_record(ROOT / "mutants" / f"{module}.meta", record)
        (ROOT / "mutants" / module).unlink(missing_ok=True)
        restored += 1
    return restored


def keep() -> int:
    """After a run, whole or stopped: write each module's results (:func:`stored`, this
    machine's and the kept ones together, without the machine's timings) into
    :data:`KEPT`, to be committed, so that the next run, on any machine, starts from
    them. Returns how many records changed. mutmut's map of tests stays on the machine
    (7.7 MB, made again in about six minutes)."""
    kept = 0
    for module in modules():
        record = stored(module)
        if record is not None and record["exit_code_by_key"]:
            record.update({name: {} for name in FIELDS if name != "type_check_error_by_key"})
            kept += write_record(KEPT / f"{module}.meta", record)
    return kept


def unmeasured_claims(name: str) -> list[str]:
    """The UNMEASURED entries on a mutant: its own, or its whole function's."""
    return [
        key for key in UNMEASURED if name == key or (key.endswith("__") and name.startswith(key))
    ]


def unmeasured(name: str) -> bool:
    return bool(unmeasured_claims(name))


def classify(
    name: str,
    code: int | None,
    confirmed: Collection[str] = (),
    on_postgres: Mapping[str, str] | None = None,
) -> str:
    """One mutant's column in the table. A claim on one mutant (EQUIVALENT, UNMEASURED)
    holds only when it is in ``confirmed`` (:func:`confirmed_claims`): judged on the
    function as it is now. A mutant only PostgreSQL can judge takes its result there
    (``on_postgres``, :func:`postgres_results`) over its claim."""
    on_postgres = on_postgres or {}
    if code in NO_RESULT:
        # Before EQUIVALENT: a mutant's number names another change once its function
        # changed, so an old reason holds only for a mutant run on the current code.
        return "no result"
    if code in KILLED:
        return "killed"
    if name in EQUIVALENT:
        return "equivalent" if name in confirmed else "unconfirmed"
    if unmeasured(name):
        if name in on_postgres:
            return "killed" if on_postgres[name] != "survived" else "survived on postgresql"
        confirmed_or_whole = name in confirmed or name not in UNMEASURED
        return "unmeasured" if confirmed_or_whole else "unconfirmed"
    if code in NO_TEST:
        return "no test"
    return "survived"


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[tuple[str, str]] = field(default_factory=list)

    def add(
        self,
        name: str,
        code: int | None,
        confirmed: Collection[str] = (),
        on_postgres: Mapping[str, str] | None = None,
    ) -> None:
        kind = classify(name, code, confirmed, on_postgres)
        if kind == "survived on postgresql":
            kind = "survived"
            self.survivors.append((name, "survived its tests on PostgreSQL"))
        elif kind == "unconfirmed":
            kind = "survived"
            self.survivors.append((name, UNCONFIRMED))
        elif kind == "survived":
            self.survivors.append((name, "survived"))
        elif kind == "no test":
            self.survivors.append((name, "no test reaches it"))
        self.counts[kind] += 1
        self.counts["total"] += 1

    @property
    def score(self) -> float:
        """Killed and equivalent over every mutant, those without a result included."""
        c = self.counts
        return 100.0 * (c["killed"] + c["equivalent"]) / c["total"] if c["total"] else 0.0


UNCONFIRMED = (
    "claimed for another version of its function: check the claim on this one "
    "(mutmut show NAME), then --confirm-claims NAME"
)


def tally(
    codes: Mapping[str, int | None],
    keep: Callable[[str], bool] = lambda name: True,
    confirmed: Collection[str] = (),
    on_postgres: Mapping[str, str] | None = None,
) -> Tally:
    t = Tally()
    for name, code in codes.items():
        if keep(name):
            t.add(name, code, confirmed, on_postgres)
    return t


def claims() -> list[str]:
    """The mutants named one by one in a claim: EQUIVALENT, and UNMEASURED where it names
    a mutant (not a whole function)."""
    return [*EQUIVALENT, *(key for key in UNMEASURED if not key.endswith("__"))]


def function_of(name: str, prefixes: Mapping[str, str]) -> tuple[str, str] | None:
    """(module path, mutmut's name of the function) of a mutant's or function's name."""
    for module, prefix in prefixes.items():
        if name.startswith(prefix):
            rest = name.removeprefix(prefix)
            return module, rest.rpartition("__mutmut_")[0] if "__mutmut_" in rest else rest
    return None


def mutant_prefixes() -> dict[str, str]:
    """Each module in scope -> the prefix of its mutants' names."""
    from mutmut.utils.format_utils import get_mutant_name

    return {module: get_mutant_name(Path(module), "") for module in modules()}


def recorded_hashes(names: Iterable[str]) -> dict[str, str]:
    """The recorded hash of the function of each of ``names`` (its mutants' results were
    recorded for that version of it), as ``module.function`` -> hash."""
    prefixes = mutant_prefixes()
    records: dict[str, dict | None] = {}
    hashes = {}
    for name in names:
        found = function_of(name, prefixes)
        if found is None:
            continue
        module, function = found
        if module not in records:
            records[module] = stored(module)
        record = records[module]
        if record is not None and function in record["hash_by_function_name"]:
            hashes[prefixes[module] + function] = record["hash_by_function_name"][function]
    return hashes


def checked_claims() -> dict[str, str]:
    path = KEPT / CLAIMS
    return json.loads(path.read_text()) if path.exists() else {}


def confirmed_claims() -> set[str]:
    """The claims (:func:`claims`) that hold for the recorded version of their function:
    the function's hash when its claims were last checked (:data:`CLAIMS`, written by
    ``--confirm-claims``) is the one its mutants' results were recorded for. A claim on a
    mutant's number says nothing once its function changed: the number may name another
    change."""
    checked = checked_claims()
    named = claims()
    hashes = recorded_hashes(named)
    return {
        name
        for name in named
        if (function := name.rpartition("__mutmut_")[0]) in hashes
        and checked.get(function) == hashes[function]
    }


def confirm_claims(names: Iterable[str]) -> list[str]:
    """Record that the claims on the functions of ``names`` (mutants' or functions' names)
    were checked on the recorded version of each (``mutmut show NAME``); returns the
    functions confirmed. A name whose function has no record for its current code is
    refused: there is nothing to have checked."""
    names = list(names)
    hashes = recorded_hashes(names)
    missing = [n for n in names if n.rpartition("__mutmut_")[0] not in hashes and n not in hashes]
    if missing:
        raise SystemExit(f"no recorded result for the current code of: {', '.join(missing)}")
    checked = {**checked_claims(), **hashes}
    write_record(KEPT / CLAIMS, dict(sorted(checked.items())))
    return sorted(hashes)


def gate(
    tallies: Mapping[str, Tally | None],
    *,
    run_status: int = 0,
    goal: float = GOAL,
    what: str = "all",
) -> list[str]:
    """Why the run fails, or [] when it passes. ``tallies`` maps a module (or a changed
    function) to its tally, None when it has no result for the current code."""
    problems = []
    if run_status != 0:
        problems.append(
            f"mutmut run failed (exit status {run_status}): its stats step or the tests run "
            "without any mutant failed (see 'failed to collect stats' or 'Failed to run clean "
            "test' above). A test that fails unmutated 'kills' every mutant: fix it first."
        )
    missing = [name for name, t in tallies.items() if t is None]
    if missing:
        problems.append(
            f"no result for the current code of {', '.join(missing)} (never mutated, or "
            "changed since the last mutmut run): run make mutation"
        )
    total = whole(tallies)
    if without := total.counts["no result"]:
        problems.append(
            f"{without} mutants in scope have no result for the current code (a stopped run, "
            "or functions changed since): run make mutation to finish"
        )
    if not missing and total.counts["total"] == 0:
        problems.append("no mutant in scope at all: check [tool.mutmut] only_mutate")
    for name, t in tallies.items():
        if t is not None and t.counts["total"] and t.score < goal:
            problems.append(f"{name}: score {t.score:.1f}% is under the goal of {goal:.0f}%")
    if len(tallies) > 1 and total.counts["total"] and total.score < goal:
        problems.append(f"{what}: score {total.score:.1f}% is under the goal of {goal:.0f}%")
    return problems


COLUMNS = [
    ("mutants", "total", 7),
    ("killed", "killed", 7),
    ("equiv.", "equivalent", 7),
    ("surv.", "survived", 6),
    ("no test", "no test", 8),
    ("unmeas.", "unmeasured", 8),
    ("no result", "no result", 10),
]


def print_table(tallies: Mapping[str, Tally | None], total_label: str | None) -> None:
    width = max([36, *(len(name) + 1 for name in tallies)])
    header = f"{'':<{width}} " + " ".join(f"{n:>{w}}" for n, _, w in COLUMNS) + f" {'score':>7}"
    print(header)
    print("-" * len(header))
    rows = list(tallies.items())
    if total_label is not None:
        # The modules without a result are missing from the total's figures.
        label = total_label if all(tallies.values()) else f"{total_label} (known only)"
        rows.append((label, whole(tallies)))
    for name, t in rows:
        if t is None:
            print(f"{name:<{width}} no result for the current code")
            continue
        cells = " ".join(f"{t.counts[key]:>{w}}" for _, key, w in COLUMNS)
        print(f"{name:<{width}} {cells} {t.score:>6.1f}%")
    survivors = [s for t in tallies.values() if t is not None for s in t.survivors]
    if survivors:
        print(f"\n{len(survivors)} mutants not killed (mutmut show NAME):")
        for name, why in survivors:
            print(f"  {name}  ({why})")


def report(run_status: int = 0) -> tuple[list[str], Tally]:
    """The whole scope's table; returns the gate's problems and the whole tally."""
    confirmed = confirmed_claims()
    on_postgres = postgres_results()
    tallies = {
        module: None
        if codes is None
        else tally(codes, confirmed=confirmed, on_postgres=on_postgres)
        for module, codes in results().items()
    }
    print_table(tallies, "all")
    if judged := len(on_postgres):
        killed = sum(result != "survived" for result in on_postgres.values())
        print(
            f"\n{judged} mutants only PostgreSQL can judge were run on it ({ON_POSTGRES}): "
            f"{killed} killed"
        )
    if any(t is not None and t.counts["unmeasured"] for t in tallies.values()):
        print(
            "\nNot measured (counted against the score; each is tested elsewhere; "
            "--postgres runs them on PostgreSQL):"
        )
        for key, why in UNMEASURED.items():
            print(f"  {key}{'*' if key.endswith('__') else ''}: {why}")
    if EQUIVALENT:
        print(f"\n{len(confirmed)} of {len(EQUIVALENT)} equivalent mutants counted as killed:")
        for name, why in EQUIVALENT.items():
            print(f"  {name}{'' if name in confirmed else ' (not confirmed)'}: {why}")
    return gate(tallies, run_status=run_status) + skipped_problem(), whole(tallies)


def whole(tallies: Mapping[str, Tally | None]) -> Tally:
    total = Tally()
    for t in tallies.values():
        if t is not None:
            total.counts.update(t.counts)
    return total


# --postgres: the mutants only PostgreSQL can judge, judged on it.

#: In KEPT: each mutant of UNMEASURED run on PostgreSQL (``--postgres``) -> the hash of
#: its function then, and its result: "killed", "timeout" or "survived".
ON_POSTGRES = "postgres-results.json"
#: The tests a claim names (``tests/....py`` or ``tests/....py::test_name``): PostgreSQL
#: runs them first. The map of tests is made on SQLite, where tests marked postgres_only
#: are skipped, so it never names them.
NAMED_TEST = re.compile(r"tests/[\w/]+\.py(?:::\w+)?")
#: The markers of the PostgreSQL step of make test (scripts/test.sh), postgres_only in.
POSTGRES_MARKERS = "not browser and not packaging and not demo and not main_step_only"


def kept_postgres_results() -> dict[str, dict[str, str]]:
    path = KEPT / ON_POSTGRES
    return json.loads(path.read_text()) if path.exists() else {}


def postgres_results() -> dict[str, str]:
    """name -> result on PostgreSQL, for the mutants whose function is as it was when the
    result was recorded (and as its SQLite results were recorded for)."""
    kept = kept_postgres_results()
    hashes = recorded_hashes(kept)
    return {
        name: entry["result"]
        for name, entry in kept.items()
        if hashes.get(name.rpartition("__mutmut_")[0]) == entry["hash"]
    }


def only_postgres_judges(
    prefixes: Collection[str] = (),
    *,
    again: bool = False,
    found: Mapping[str, Mapping[str, int | None] | None] | None = None,
) -> list[str]:
    """The mutants that survived on SQLite and are named in UNMEASURED (of the functions
    starting with one of ``prefixes``; all when empty), without a result on PostgreSQL
    for their function's current code; with ``again``, those that survived there too
    (after tests were written for them). ``found`` is :func:`results` when the caller
    has read it already (about a minute)."""
    done = {
        name: result
        for name, result in postgres_results().items()
        if not (again and result == "survived")
    }
    return sorted(
        name
        for codes in (results() if found is None else found).values()
        for name, code in (codes or {}).items()
        if code in SURVIVED
        and unmeasured(name)
        and name not in done
        and (not prefixes or name.startswith(tuple(prefixes)))
    )


def postgres_tests(name: str, stats: Mapping) -> list[str]:
    """The tests of a mutant on PostgreSQL: those its claim names, then those mutmut
    mapped to its function, fastest first (``-x`` ends the session at the first
    failure)."""
    reasons = [UNMEASURED[key] for key in unmeasured_claims(name)]
    named = list(dict.fromkeys(t for why in reasons for t in NAMED_TEST.findall(why)))
    files = {t for t in named if "::" not in t}
    durations = stats["duration_by_test"]
    mapped = sorted(
        stats["tests_by_mangled_function_name"].get(name.rpartition("__mutmut_")[0], []),
        key=lambda test: durations.get(test, float("inf")),
    )
    return named + [t for t in mapped if t not in named and t.partition("::")[0] not in files]


def postgres_url() -> tuple[str | None, bool]:
    """DATABASE_URL when it names PostgreSQL, else one from scripts/start-postgres.sh;
    (None, False) when there is none. The flag says whether it was started here."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url, False
    started = subprocess.run(  # noqa: S603
        ["bash", str(ROOT / "scripts" / "start-postgres.sh")],  # noqa: S607
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        print(started.stderr.strip())
        return None, False
    return started.stdout.strip().splitlines()[-1], True


def run_on_postgres(
    url: str, tests: list[str], mutant: str | None, timeout: float, *, show: bool = False
) -> str:
    """pytest in mutants/ on PostgreSQL, with ``mutant`` active (none: the code as it
    is): "passed", "failed", "timeout", or pytest's exit status when it ran no test or
    broke (an internal error, a usage error such as a test id not found)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"XUNCHEN_TEST_DURATIONS", "XUNCHEN_TEST_DB_TEMPLATE", "MUTANT_UNDER_TEST"}
    }
    env.update(DATABASE_URL=url, PYTHONPATH=str(ROOT / "mutants"))
    if mutant is not None:
        env["MUTANT_UNDER_TEST"] = mutant
    command = [
        *(sys.executable, "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:randomly"),
        *("-p", "no:cacheprovider", "--reuse-db", "-m", POSTGRES_MARKERS, *tests),
    ]
    try:
        status = subprocess.run(  # noqa: S603 (test ids from our map and claims)
            command,
            cwd=ROOT / "mutants",
            env=env,
            timeout=timeout,
            stdout=None if show else subprocess.DEVNULL,
            stderr=None if show else subprocess.DEVNULL,
        ).returncode
    except subprocess.TimeoutExpired:
        return "timeout"
    # 2 (an error while collecting) and 4 (a test id not found, when its module failed to
    # import) come of a mutant in code run at import, a decorator for one: the same tests
    # ran and passed without it (judge_on_postgres runs them clean first).
    return {0: "passed", 1: "failed", 2: "failed", 4: "failed"}.get(
        status, f"pytest exit status {status}"
    )


def judge_on_postgres(
    prefixes: Collection[str] = (),
    *,
    again: bool = False,
    found: Mapping[str, Mapping[str, int | None] | None] | None = None,
) -> list[str]:
    """Run each mutant only PostgreSQL can judge (:func:`only_postgres_judges`) on it,
    and keep its result in :data:`ON_POSTGRES`; returns what went wrong.

    Before the mutants, as mutmut does: their tests pass on the code as it is, and fail
    with every function replaced by one that raises (mutmut's "fail" mutant), which
    shows that they run the mutated copy in mutants/ and not the installed package."""
    names = only_postgres_judges(prefixes, again=again, found=found)
    if not names:
        return []
    stats_path = ROOT / "mutants" / STATS
    if not stats_path.exists():
        return ["no map of tests (mutants/mutmut-stats.json): run make mutation first"]
    stats = json.loads(stats_path.read_text())
    url, started = postgres_url()
    if url is None:
        return [f"{len(names)} mutants only PostgreSQL can judge were not run: no PostgreSQL"]
    started_at = time.monotonic()
    print(f"\n{len(names)} mutants only PostgreSQL can judge, run on it")
    try:
        tests_by_name = {name: postgres_tests(name, stats) for name in names}
        if empty := [name for name, tests in tests_by_name.items() if not tests]:
            return [f"no test named or mapped for {', '.join(empty)}"]
        every_test = list(dict.fromkeys(t for tests in tests_by_name.values() for t in tests))
        print(f"their {len(every_test)} tests, without a mutant:", flush=True)
        clean = run_on_postgres(url, every_test, None, timeout=3600, show=True)
        if clean != "passed":
            return [
                f"the {len(every_test)} tests of the mutants only PostgreSQL can judge do "
                f"not pass unmutated on PostgreSQL ({clean}): fix them first"
            ]
        first = tests_by_name[names[0]][:1]
        print(f"{first[0]}, every mutated function raising:", flush=True)
        if (check := run_on_postgres(url, first, "fail", timeout=600, show=True)) != "failed":
            return [
                f"{first[0]} did not fail with every mutated function raising ({check}): "
                "the tests do not run the mutated copy in mutants/"
            ]
        durations = stats["duration_by_test"]
        kept = kept_postgres_results()
        hashes = recorded_hashes(names)
        problems = []
        for number, name in enumerate(names, 1):
            tests = tests_by_name[name]
            timeout = 120 + 15 * sum(durations.get(t, 1.0) for t in tests)
            outcome = run_on_postgres(url, tests, name, timeout)
            result = {"failed": "killed", "passed": "survived", "timeout": "timeout"}.get(outcome)
            print(f"  {number}/{len(names)} {name}: {result or outcome}", flush=True)
            if result is None:
                problems.append(f"{name} on PostgreSQL: {outcome}")
                continue
            kept[name] = {"hash": hashes[name.rpartition("__mutmut_")[0]], "result": result}
            write_record(KEPT / ON_POSTGRES, dict(sorted(kept.items())))
        print(f"on PostgreSQL: {time.monotonic() - started_at:.0f} s")
        return problems
    finally:
        if started:
            subprocess.run(["bash", str(ROOT / "scripts" / "stop-postgres.sh")], check=False)  # noqa: S603,S607


# --since REF: only the functions changed since a git ref.


def dotted(module: str) -> str:
    """mutmut's module name for a source path: django_xunchen/client/http.py ->
    django_xunchen.client.http (a package's __init__ is the package)."""
    name = module.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def functions(source: str) -> list[tuple[str, int, int]]:
    """The functions mutmut mutates (top-level functions, and methods of top-level
    classes), as (mangled name, first line, last line), decorators included."""
    found = []
    for node in ast.parse(source).body:
        members = [(None, node)]
        if isinstance(node, ast.ClassDef):
            members = [(node.name, child) for child in node.body]
        for owner, item in members:
            if not isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            first = min([item.lineno, *(d.lineno for d in item.decorator_list)])
            last = item.end_lineno or item.lineno
            mangled = f"x{SEPARATOR}{owner}{SEPARATOR}{item.name}" if owner else f"x_{item.name}"
            found.append((mangled, first, last))
    return found


UNSKIPPED_DECORATIONS = ([], ["staticmethod"], ["classmethod"])


def skipped_functions(paths: Collection[str] | None = None) -> list[str]:
    """The functions of the modules ``paths`` (the scope when None) that mutmut never
    mutates, and says nothing of, though it would make mutants of them undecorated.

    mutmut skips every function under a decorator (but a lone ``@staticmethod`` or
    ``@classmethod``), nested ones included: no mutants, so no score can count them
    against, and the gate names them instead. A decorated function with nothing mutmut
    would change (a property that only returns ``self._size()``) loses nothing and is
    not named; each is tried with its decorators (and those of the functions around it)
    blanked out, counting the mutants mutmut makes of the module."""
    found = []
    for module in modules() if paths is None else paths:
        if not (ROOT / module).exists():
            continue
        source = (ROOT / module).read_text()
        decorated = [
            node
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and [ast.unparse(d) for d in node.decorator_list] not in UNSKIPPED_DECORATIONS
        ]
        if not decorated:
            continue
        baseline = _mutant_count(module, source)
        skipped = []
        for node in decorated:
            around = [
                outer
                for outer in decorated
                if outer.lineno <= node.lineno and node.end_lineno <= outer.end_lineno
            ]
            if _mutant_count(module, _without_decorators(source, around)) > baseline:
                names = ", @".join(ast.unparse(d) for d in node.decorator_list)
                skipped.append((node.lineno, f"{node.name} (@{names})"))
        found += [f"{module}:{line} {what}" for line, what in sorted(skipped)]
    return found


def _mutant_count(module: str, source: str) -> int:
    from mutmut.mutation.file_mutation import create_mutations

    return len(create_mutations(module, source)[1])


def _without_decorators(
    source: str, functions: Iterable[ast.FunctionDef | ast.AsyncFunctionDef]
) -> str:
    """``source`` with the decorator lines of ``functions`` blank (line numbers kept)."""
    lines = source.splitlines()
    for function in functions:
        for decorator in function.decorator_list:
            for number in range(decorator.lineno - 1, decorator.end_lineno):
                lines[number] = ""
    return "\n".join(lines) + "\n"


def skipped_problem(paths: Collection[str] | None = None) -> list[str]:
    skipped = skipped_functions(paths)
    if not skipped:
        return []
    return [
        f"{len(skipped)} functions in scope are never mutated (mutmut skips a decorated "
        f"function): {'; '.join(skipped)}. Apply the decorator after the definition when "
        "that keeps the function's type (sensitive_variables, a wrapper that keeps the "
        "signature); for a property or a context manager, whose type a checker would lose, "
        "move the logic into an undecorated function the decorated one only calls"
    ]


def changed_lines(diff: str) -> dict[str, list[tuple[int, int]]]:
    """The new side's changed line ranges per file, from ``git diff -U0``: (first, last);
    a pure deletion is the line after which it was, (n, n)."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    current = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[4:]
            current = path[2:] if path.startswith("b/") else None
            if current is not None:
                ranges.setdefault(current, [])
        elif line.startswith("@@") and current is not None:
            match = re.match(r"@@ -\S+ \+(\d+)(?:,(\d+))? @@", line)
            if match:
                start, count = int(match.group(1)), int(match.group(2) or 1)
                ranges[current].append((start, start + count - 1) if count else (start, start))
    return ranges


def touched(funcs: Iterable[tuple[str, int, int]], ranges: Iterable[tuple[int, int]]) -> set[str]:
    ranges = list(ranges)
    return {name for name, first, last in funcs if any(a <= last and b >= first for a, b in ranges)}


def changed_since(ref: str) -> dict[str, set[str]]:
    """module -> the mangled names of its functions changed since ``ref`` (the working
    tree against it, uncommitted changes included)."""
    if ref.startswith("-"):
        raise SystemExit(f"--since takes a git ref, not an option: {ref}")
    scope = modules()
    diff = subprocess.run(  # noqa: S603 (a ref the developer gave, never an option)
        ["git", "diff", "-U0", "--no-color", "--no-ext-diff", ref, "--", *scope],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    changed = {}
    for module, ranges in changed_lines(diff).items():
        if module in scope and (ROOT / module).exists():
            names = touched(functions((ROOT / module).read_text()), ranges)
            if names:
                changed[module] = names
    return changed


def since(ref: str, *, run: bool) -> int:
    changed = changed_since(ref)
    prefixes = {
        f"{dotted(module)}.{name}__mutmut_": f"{module}::{name.replace(SEPARATOR, '.')[2:]}"
        for module, names in sorted(changed.items())
        for name in sorted(names)
    }
    if not prefixes:
        print(f"no function in the mutation scope changed since {ref}: nothing to run")
        return 0
    print(f"{len(prefixes)} functions in the mutation scope changed since {ref}:")
    for label in prefixes.values():
        print(f"  {label}")
    run_status = 0
    on_postgres_problems = []
    if run:
        run_status = run_mutmut([prefix + "*" for prefix in prefixes])
    fresh = results()
    if run and run_status == 0:
        on_postgres_problems = judge_on_postgres(list(prefixes), found=fresh)
    by_prefix: dict[str, Tally | None] = {}
    codes: dict[str, int | None] = {}
    confirmed = confirmed_claims()
    on_postgres = postgres_results()
    for module in changed:
        codes.update(fresh.get(module) or {})
    for prefix, label in prefixes.items():
        module = label.partition("::")[0]
        if fresh.get(module) is None:
            by_prefix[label] = None
            continue
        t = tally(
            codes,
            keep=lambda name, prefix=prefix: name.startswith(prefix),
            confirmed=confirmed,
            on_postgres=on_postgres,
        )
        if t.counts["total"]:
            by_prefix[label] = t
    if not by_prefix:
        if skipped := skipped_problem(sorted(changed)):
            return finish(on_postgres_problems + skipped, "")
        print("\nnone of them has a mutant (only names, docstrings or log calls changed)")
        return 0
    print()
    print_table(by_prefix, f"the {len(by_prefix)} changed functions")
    problems = (
        on_postgres_problems
        + gate(by_prefix, run_status=run_status, what=f"the functions changed since {ref}")
        + skipped_problem(sorted(changed))
    )
    # Never the whole score: this mode runs only the changed functions' mutants.
    return finish(problems, "the changed functions' score; not the whole score")


def run_mutmut(
    names: list[str],
    children: int | None = None,
    fresh_stats: bool = False,
    survivors: Collection[str] | None = None,
) -> int:
    started = time.monotonic()
    if restored := restore():
        print(f"restored {restored} records kept in {KEPT.relative_to(ROOT)}")
    if fresh_stats and (forgotten := forget_survivors()):
        print(f"{forgotten} survivors will run again against the new map of tests")
    if survivors is not None:
        names = survivor_names(survivors)
        if not names:
            print("no survivor to run again")
            return 0
        print(f"{len(names)} survivors run again, with the tests written since")
    if copied := sync_data_files():
        print(f"copied {copied} changed templates, translations and static files")
    limit = ["--max-children", str(children)] if children else []
    command = [sys.executable, "-m", "mutmut", "run", *limit, *names]
    # Each mutant's pytest session copies the migrated test database made by the first
    # one instead of migrating again (tests/template_db.py): about 2 s a mutant.
    template = tempfile.TemporaryDirectory(prefix="xunchen-mutation-db-")
    # ... and runs its tests fastest first (tests/fastest_first.py): the first failure ends it.
    env = {
        **os.environ,
        "XUNCHEN_TEST_DB_TEMPLATE": template.name,
        "XUNCHEN_TEST_DURATIONS": str(ROOT / "mutants" / STATS),
    }
    try:
        status = subprocess.run(command, cwd=ROOT, env=env).returncode  # noqa: S603 (our mutant names)
    finally:
        template.cleanup()
        print(f"kept {keep()} changed records in {KEPT.relative_to(ROOT)}: commit them")
    print(f"\nmutmut run took {time.monotonic() - started:.0f} s (exit status {status})\n")
    return status


def _survivors(under: Collection[str] = ()) -> Iterator[tuple[Path, dict, list[str]]]:
    """Each record in this machine's ``mutants/`` (of the modules under the paths
    ``under``; all when empty) with the mutants no test killed in it (survived, or no
    test reached them)."""
    for module in modules():
        if under and not any(module.startswith(path) for path in under):
            continue
        path = ROOT / "mutants" / f"{module}.meta"
        record = read_record(path)
        if record is not None:
            codes = record["exit_code_by_key"]
            yield path, record, [key for key, code in codes.items() if code in SURVIVED]


def survivor_names(under: Collection[str] = ()) -> list[str]:
    """The survivors of the modules under ``under`` (all when empty), but those claimed
    equivalent or unmeasured: they would survive again."""
    found = {name for _, _, names in _survivors(under) for name in names}
    return sorted(found - set(claims()))


def function_prefixes(paths: Collection[str]) -> list[str]:
    """The prefix of the mutant names of the modules under each of ``paths``
    (``django_xunchen/polling/`` -> ``django_xunchen.polling``)."""
    return [dotted(path.rstrip("/")) for path in paths]


def forget_survivors() -> int:
    """Clear the results of the survivors in this machine's records: after the tests are
    mapped anew, they run again (mutmut runs only mutants without a result). Returns how
    many."""
    forgotten = 0
    for path, record, names in _survivors():
        for name in names:
            record["exit_code_by_key"][name] = None
        if names:
            write_record(path, record)
            forgotten += len(names)
    return forgotten


def finish(problems: list[str], passed: str) -> int:
    if problems:
        print("\nmake mutation FAILED:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print(f"\nmake mutation passed ({passed}, goal {GOAL:.0f}%)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="report on the last run only")
    parser.add_argument(
        "--fresh-stats",
        action="store_true",
        help=(
            "map every test to the functions it runs again before the run (after a "
            "refactoring: mutmut maps only new tests, so a function split or merged since "
            "keeps the tests of its old shape, and its survivors may be false)"
        ),
    )
    parser.add_argument(
        "--survivors",
        nargs="*",
        metavar="PATH",
        help=(
            "run again only the mutants no test killed (of the modules under these paths; "
            "all when none), after tests were written for them: mutmut maps new tests to "
            "the functions they run, but never runs a mutant with a result again unless it "
            "is named. Those claimed equivalent or unmeasured are left out of mutmut's "
            "run; the survivors on PostgreSQL run there again"
        ),
    )
    parser.add_argument(
        "--since",
        metavar="REF",
        help=(
            "run only the mutants of the functions changed since the git ref REF (working "
            "tree included) and report their score alone"
        ),
    )
    parser.add_argument(
        "--max-children",
        type=int,
        metavar="N",
        help="run at most N mutants at once (mutmut's default: one per core)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help=(
            f"copy this machine's results into {KEPT.relative_to(ROOT)} (after a run that "
            "was stopped), then report"
        ),
    )
    parser.add_argument(
        "--confirm-claims",
        nargs="+",
        metavar="NAME",
        help=(
            "after checking the EQUIVALENT or UNMEASURED claims on the functions of these "
            "mutants (mutmut show NAME) on their recorded version: record that version, "
            "then report"
        ),
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=(
            "run only the mutants that survived on SQLite and only PostgreSQL can judge "
            "(UNMEASURED) on PostgreSQL (DATABASE_URL, or scripts/start-postgres.sh), "
            "then report; make mutation does it after every run"
        ),
    )
    args = parser.parse_args()
    if args.postgres and (args.report or args.survivors is not None or args.since):
        parser.error("--postgres runs alone: leave out --report, --survivors and --since")
    if args.confirm_claims:
        for function in confirm_claims(args.confirm_claims):
            print(f"confirmed the claims on {function}")
        print(f"commit {(KEPT / CLAIMS).relative_to(ROOT)}")
        args.report = True
    if args.keep:
        print(f"kept {keep()} changed records in {KEPT.relative_to(ROOT)}: commit them")
        args.report = True
    if args.fresh_stats:
        if args.report:
            parser.error("--fresh-stats needs a run; leave out --report")
        (ROOT / "mutants" / STATS).unlink(missing_ok=True)
    if args.survivors is not None and args.report:
        parser.error("--survivors needs a run; leave out --report")
    if args.since:
        return since(args.since, run=not args.report)
    run_status = (
        0
        if args.report or args.postgres
        else run_mutmut([], args.max_children, args.fresh_stats, survivors=args.survivors)
    )
    on_postgres_problems = []
    if run_status == 0 and not args.report:
        on_postgres_problems = judge_on_postgres(
            function_prefixes(args.survivors or ()), again=args.survivors is not None
        )
    problems, total = report(run_status)
    return finish(
        on_postgres_problems + problems,
        f"score {total.score:.1f}% over all {total.counts['total']} mutants",
    )


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
