"""The async API, for async views and other coroutines: :func:`asend_sms`,
:func:`arequest_code`, :func:`acheck_code`, :func:`aget_balance` and
:func:`aget_balances`, re-exported from ``django_xunchen``.

Each awaits the synchronous function of the same name without the ``a``
(:func:`~django_xunchen.send_sms`, :func:`~django_xunchen.verification.request_code`,
:func:`~django_xunchen.verification.check_code`, :func:`~django_xunchen.get_balance`,
:func:`~django_xunchen.get_balances`) run in a thread by :func:`asgiref.sync.sync_to_async`:
the same code, so the same validation, sending rules, throttles, rows, signals, results
and errors; the event loop is not blocked while the database or the gateway answers.
(:func:`~django_xunchen.estimate` does no I/O: call it directly.)

**Which thread: ``thread_sensitive=True``**, asgiref's default, chosen for these reasons:

- Under an ASGI server, Django's handler serves each request inside an
  ``asgiref.sync.ThreadSensitiveContext`` of its own, and thread-sensitive calls go to
  a thread of that context: one thread per request, not one per server. Two requests'
  sends run at the same time (tests/sending/test_async_api.py has two slow sends overlap
  under uvicorn); the calls of one request run one after another, on the thread that
  Django's own async ORM methods (``aget``, ``acreate``, …) and sync middleware of that
  request use.
- That thread is where Django ends the request: ``request_finished`` runs
  ``close_old_connections`` on it, so the database connection a send used is closed, or
  kept by ``CONN_MAX_AGE`` and checked by ``CONN_HEALTH_CHECKS``, like any request's.
  With ``thread_sensitive=False`` the call would run in the event loop's default thread
  pool instead, whose threads (up to ``min(32, CPUs + 4)``) would each hold a connection
  that Django never closes, checks or recycles, because it closes old connections only at
  request boundaries and only on the request's thread: idle connections that go stale
  when the database restarts.
- A coroutine run from synchronous code by ``async_to_sync`` has its thread-sensitive
  calls run on the calling thread itself: the send uses the caller's connection and
  joins its transaction, as ``send_sms`` called there would. In a pool thread it would
  write on another connection, outside that transaction: sent even if the caller rolls
  back, committed outside a ``TestCase``'s transaction (outliving the test), and on
  SQLite stuck behind the caller's own write lock once the caller has written.

Outside a request (a coroutine run by ``asyncio.run``, a worker's own event loop) there
is no request context: the thread-sensitive calls of the process share one thread and
run one after another. To send to many numbers, pass them all to one call, which sends
its requests ``CONCURRENCY`` at a time. To run separate sends side by side, wrap each
task in ``async with asgiref.sync.ThreadSensitiveContext():``, which gives it a thread
of its own, and end the block with ``await sync_to_async(connections.close_all)()``
(in a ``finally``): no request finishes there to close that thread's connection, which
otherwise stays open (docs/sending.rst has the example).

**Transactions.** Async code cannot open one: ``transaction.atomic`` is synchronous
(Django refuses it in an event loop with ``SynchronousOnlyOperation``) and
``ATOMIC_REQUESTS`` refuses async views. So from an async view these functions
run in autocommit: the rows are committed by the function and a send goes out before
:func:`asend_sms` returns, or, with ``background``, is enqueued once its rows are
committed. ``send_sms``'s "inside a transaction, sent after the commit"
(``transaction.on_commit``) applies only when the coroutine is run by ``async_to_sync``
inside a synchronous ``transaction.atomic()`` block: the rows then come back ``queued``
and go out when that block commits, or never if it rolls back. To send only if your own
writes commit, put both in one synchronous function under ``transaction.atomic()`` that
calls ``send_sms``, and await ``sync_to_async(that_function)()``.

**Cancellation.** A client that disconnects cancels the view, not the send: a running
thread cannot be stopped, so the function runs to its end and records its rows as it
would have; only its return value is lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.views.decorators.debug import sensitive_variables

from .api import get_balance, get_balances, send_sms
from .client.types import Balance, Mobiles
from .client.validation import Params
from .conf import DEFAULT_KIND
from .models import Message, Template
from .verification.codes import CodeCheck, CodeRequest, check_code, request_code

__all__ = ["acheck_code", "aget_balance", "aget_balances", "arequest_code", "asend_sms"]


async def asend_sms(
    mobiles: Mobiles,
    content: str | None = None,
    *,
    template: Template | str | None = None,
    params: Params | None = None,
    extcode: object = None,
    send_at: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
    kind: str = DEFAULT_KIND,
    account: str | None = None,
    tags: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    fail_silently: bool = False,
    backend: str | None = None,
    background: bool | None = None,
) -> list[Message]:
    """:func:`~django_xunchen.send_sms`, awaited: send one SMS to each number and return
    the Message rows created, one per number, with the same arguments, rules and errors
    (bad input raises before anything is written; unless ``fail_silently``, the first
    gateway or transport error is raised after every row is recorded, the rows on it as
    ``sms_messages``). From an async view the rows are committed and sent (or, with
    ``background``, enqueued) before it returns: there is no transaction to wait for."""
    return await sync_to_async(send_sms, thread_sensitive=True)(
        mobiles,
        content,
        template=template,
        params=params,
        extcode=extcode,
        send_at=send_at,
        expires_at=expires_at,
        kind=kind,
        account=account,
        tags=tags,
        metadata=metadata,
        fail_silently=fail_silently,
        backend=backend,
        background=background,
    )


async def arequest_code(
    mobile: object,
    purpose: str = "login",
    *,
    ip: str | None = None,
    account: str | None = None,
) -> CodeRequest:
    """:func:`~django_xunchen.verification.request_code`, awaited: send a verification
    code to ``mobile`` for ``purpose`` within the throttles, and say what happened
    (``sent``, ``throttled`` with ``retry_after``, or ``failed``). ``ip``: the client's
    address, :func:`~django_xunchen.verification.client_ip` of the request."""
    return await sync_to_async(request_code, thread_sensitive=True)(
        mobile, purpose, ip=ip, account=account
    )


@sensitive_variables("code")
async def acheck_code(mobile: object, code: object, purpose: str = "login") -> CodeCheck:
    """:func:`~django_xunchen.verification.check_code`, awaited: check ``code`` for
    ``mobile`` and ``purpose``. A right code is used up; a wrong one uses an attempt; a
    code that is not a string raises
    :class:`~django_xunchen.exceptions.XunchenValidationError` and spends none."""
    return await sync_to_async(check_code, thread_sensitive=True)(mobile, code, purpose)


async def aget_balance(*, account: str | None = None, backend: str | None = None) -> Balance:
    """:func:`~django_xunchen.get_balance`, awaited: the balance of ``account``
    (``"default"`` when not given) and the one-part messages it buys."""
    return await sync_to_async(get_balance, thread_sensitive=True)(account=account, backend=backend)


async def aget_balances(
    *, backend: str | None = None, only: str | None = None
) -> dict[str, Balance | Exception]:
    """:func:`~django_xunchen.get_balances`, awaited: every configured account's balance
    by name, an account whose balance could not be read mapped to its error. The accounts
    are asked one after another, as by ``get_balances``."""
    return await sync_to_async(get_balances, thread_sensitive=True)(backend=backend, only=only)
