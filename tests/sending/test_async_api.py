"""The async API (django_xunchen.aio) in async views: through Django's AsyncClient, and
under a real ASGI server (uvicorn, in a thread of this process, on a bound socket of a
free port), where a send waiting on the gateway leaves the event loop free to answer
other requests, and two requests' sends run side by side.

This module is its own URLconf (``pytest.mark.urls(__name__)``): the async views below.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from asgiref.sync import async_to_sync
from django.core.asgi import get_asgi_application
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from django_xunchen import (
    acheck_code,
    aget_balance,
    aget_balances,
    arequest_code,
    asend_sms,
    estimate,
)
from django_xunchen.backends import locmem
from django_xunchen.client.types import SendRequest, SendResult
from django_xunchen.exceptions import XunchenError, XunchenValidationError
from django_xunchen.models import Message, VerificationCode
from django_xunchen.signals import message_sent
from django_xunchen.testing import last_code
from django_xunchen.verification import client_ip

NUMBER = "13800138000"
S = Message.Status
#: Set when send_view is cancelled while it awaits asend_sms (the client hung up).
cancelled = threading.Event()


# --------------------------------------------------------------------------- the views


@csrf_exempt
async def send_view(request: HttpRequest) -> JsonResponse:
    try:
        rows = await asend_sms(request.POST["mobile"], request.POST["content"])
    except asyncio.CancelledError:
        cancelled.set()
        raise
    except XunchenError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(
        {"messages": [{"id": m.pk, "status": m.status, "msgid": m.msgid} for m in rows]}
    )


async def balance_view(request: HttpRequest) -> JsonResponse:
    balance = await aget_balance()
    every = await aget_balances()
    return JsonResponse(
        {
            "amount": str(balance.amount),
            "messages": balance.messages,
            "accounts": sorted(every),
        }
    )


@csrf_exempt
async def code_request_view(request: HttpRequest) -> JsonResponse:
    result = await arequest_code(request.POST["mobile"], "login", ip=client_ip(request))
    return JsonResponse({"status": result.status.value, "retry_after": result.retry_after})


@csrf_exempt
async def code_check_view(request: HttpRequest) -> JsonResponse:
    check = await acheck_code(request.POST["mobile"], request.POST["code"], "login")
    return JsonResponse({"status": check.status.value, "attempts_left": check.attempts_left})


async def ping_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("pong")


urlpatterns = [
    path("send/", send_view),
    path("balance/", balance_view),
    path("code/request/", code_request_view),
    path("code/check/", code_check_view),
    path("ping/", ping_view),
]


def post(client, url: str, data: dict[str, str]):
    return async_to_sync(client.post)(url, data)


# --------------------------------------------------------------------------- AsyncClient


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_an_async_view_sends_and_reads_the_balance(async_client, xunchen_outbox):
    response = post(async_client, "/send/", {"mobile": NUMBER, "content": "您的订单已发货。"})
    assert response.status_code == 200
    (answer,) = response.json()["messages"]
    message = Message.objects.get()
    assert answer == {"id": message.pk, "status": "sent", "msgid": message.msgid}
    assert (message.mobile, message.status) == (NUMBER, S.SENT)
    assert [(s.mobiles, s.content) for s in xunchen_outbox] == [((NUMBER,), "您的订单已发货。")]

    response = async_to_sync(async_client.get)("/balance/")
    assert response.json() == {"amount": "1000", "messages": 10000, "accounts": ["default"]}


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_bad_input_is_raised_to_the_async_view_before_anything_is_written(async_client):
    response = post(async_client, "/send/", {"mobile": "12345", "content": "x"})
    assert response.status_code == 400
    assert "12345" in response.json()["error"]
    assert not Message.objects.exists()


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_code_requested_and_checked_from_async_views(async_client, xunchen_outbox):
    response = post(async_client, "/code/request/", {"mobile": NUMBER})
    assert response.json() == {"status": "sent", "retry_after": 60}
    code = last_code(NUMBER)
    assert code is not None and code in xunchen_outbox[0].content
    wrong = str((int(code) + 1) % 10**6).zfill(6)

    response = post(async_client, "/code/check/", {"mobile": NUMBER, "code": wrong})
    assert response.json() == {"status": "wrong", "attempts_left": 4}
    response = post(async_client, "/code/check/", {"mobile": NUMBER, "code": code})
    assert response.json() == {"status": "verified", "attempts_left": 0}
    assert VerificationCode.objects.get().state == VerificationCode.State.VERIFIED
    response = post(async_client, "/code/check/", {"mobile": NUMBER, "code": code})
    assert response.json()["status"] == "no_code", "a verified code is used up"


@pytest.mark.django_db
def test_a_code_that_is_not_a_string_is_refused_by_acheck_code():
    with pytest.raises(XunchenValidationError):
        async_to_sync(acheck_code)(NUMBER, 123456)


def in_a_thread(work):
    """``work()`` in a thread of its own, its connection closed after: async_to_sync
    refuses a thread whose event loop runs, and a session-wide fixture (Playwright's sync
    API, for the browser tests) may keep one running in the main thread."""
    found: dict[str, object] = {}

    def run() -> None:
        try:
            found["value"] = work()
        except BaseException as exc:  # re-raised in the test's thread
            found["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in found:
        raise found["error"]
    return found.get("value")


def test_estimate_does_no_io_and_may_be_called_from_a_coroutine():
    """No thread needed: the ORM would raise SynchronousOnlyOperation in the loop."""

    async def in_the_loop():
        return estimate([NUMBER, "13900000000"], "您的订单已发货。")

    assert in_a_thread(lambda: async_to_sync(in_the_loop)()).numbers == 2


@pytest.mark.django_db(transaction=True)
def test_run_by_async_to_sync_inside_atomic_it_joins_the_transaction(gateway):
    """The coroutine's send runs on the calling thread (thread_sensitive): in its
    transaction, so a backend that reaches handsets sends after the commit, and never
    after a rollback, as send_sms does."""

    def commit() -> list[str]:
        with transaction.atomic():
            rows = async_to_sync(asend_sms)(NUMBER, "提交后发送")
            waiting = [r.status for r in rows]
            assert gateway.submissions == []
        return waiting

    assert in_a_thread(commit) == [S.QUEUED]
    assert [s.text for s in gateway.submissions] == ["提交后发送"]
    assert Message.objects.get().status == S.SENT

    def roll_back() -> None:
        with contextlib.suppress(ZeroDivisionError), transaction.atomic():
            async_to_sync(asend_sms)("13900000000", "回滚")
            1 / 0  # noqa: B018

    in_a_thread(roll_back)
    assert len(gateway.submissions) == 1
    assert Message.objects.count() == 1


# --------------------------------------------------------------------------- uvicorn


@contextlib.contextmanager
def uvicorn_server() -> Iterator[str]:
    """Django's ASGI application served by uvicorn in a thread, on a socket bound here
    (so that no other process can take the port between choosing and serving)."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        get_asgi_application(),
        interface="asgi3",
        http="h11",
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def server(settings):
    settings.ROOT_URLCONF = __name__
    with uvicorn_server() as base:
        yield base


class Gate:
    """Holds each send of :class:`GatedBackend` until the test lets one through."""

    def __init__(self) -> None:
        self.arrived = threading.Semaphore(0)
        self.passes = threading.Semaphore(0)
        self.arrivals = 0

    def wait_for_arrival(self, timeout: float = 5.0) -> bool:
        return self.arrived.acquire(timeout=timeout)

    def let_through(self, count: int = 1) -> None:
        for _ in range(count):
            self.passes.release()


class GatedBackend(locmem.SMSBackend):
    """The locmem backend, whose send waits at the gate (a gateway that takes its time)."""

    gate = Gate()

    def send(self, request: SendRequest) -> SendResult:
        type(self).gate.arrivals += 1
        type(self).gate.arrived.release()
        type(self).gate.passes.acquire(timeout=10)
        return super().send(request)


@pytest.fixture
def gate(settings, xunchen_outbox):
    GatedBackend.gate = Gate()
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": f"{__name__}.GatedBackend"}
    yield GatedBackend.gate
    GatedBackend.gate.let_through(10)


class Background(threading.Thread):
    """A request made in a thread; ``response`` once it is answered."""

    def __init__(self, url: str, data: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.data = url, data
        self.response: requests.Response | None = None

    def run(self) -> None:
        self.response = requests.post(self.url, data=self.data, timeout=15)


@pytest.mark.django_db(transaction=True)
def test_under_uvicorn_the_loop_answers_while_a_send_waits_on_the_gateway(
    server, gateway, settings
):
    """A send over HTTP to the fake gateway, which takes 2 seconds to answer: meanwhile
    the same server answers another async view, and another request's aget_balance asks
    the gateway too."""
    settings.XUNCHEN = {**settings.XUNCHEN, "TIMEOUT": (2, 5)}
    gateway.inject_fault("latency", seconds=2, method="sendUtf8Msg")
    started = time.monotonic()
    slow = Background(f"{server}/send/", {"mobile": NUMBER, "content": "慢慢发"})
    slow.start()
    deadline = started + 5
    while not gateway.submissions:
        assert time.monotonic() < deadline, "the send never reached the gateway"
        time.sleep(0.01)

    assert requests.get(f"{server}/ping/", timeout=5).text == "pong"
    balance = requests.get(f"{server}/balance/", timeout=5).json()
    assert balance["accounts"] == ["default"]
    assert slow.is_alive(), "the ping and the balance waited for the send: the loop was blocked"

    slow.join(10)
    assert slow.response is not None and slow.response.status_code == 200
    assert time.monotonic() - started >= 2
    (answer,) = slow.response.json()["messages"]
    message = Message.objects.get()
    assert answer == {"id": message.pk, "status": "sent", "msgid": gateway.submissions[0].msgid}
    assert (message.status, message.msgid) == (S.SENT, answer["msgid"])


@pytest.mark.django_db(transaction=True)
def test_under_uvicorn_two_requests_send_side_by_side(server, gate, xunchen_outbox):
    """Each request has its own thread (Django's ThreadSensitiveContext): the second
    send reaches the backend while the first is still held there. (Let through one at a
    time: two writers at once on SQLite's shared in-memory test database would collide.)"""
    first = Background(f"{server}/send/", {"mobile": NUMBER, "content": "一"})
    first.start()
    assert gate.wait_for_arrival()
    second = Background(f"{server}/send/", {"mobile": "13900000000", "content": "二"})
    second.start()
    assert gate.wait_for_arrival(), "the second send waited for the first"
    assert first.is_alive() and second.is_alive()
    gate.let_through()
    deadline = time.monotonic() + 10
    while first.is_alive() and second.is_alive():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    gate.let_through()
    for request in (first, second):
        request.join(10)
        assert request.response is not None and request.response.status_code == 200
    assert sorted(s.content for s in xunchen_outbox) == ["一", "二"]
    assert list(Message.objects.values_list("status", flat=True)) == [S.SENT, S.SENT]


@pytest.fixture
def sent():
    """Set when message_sent is sent (after the outcome is committed)."""
    event = threading.Event()

    def receiver(**kwargs):
        event.set()

    message_sent.connect(receiver, weak=False)
    yield event
    message_sent.disconnect(receiver)


@pytest.mark.django_db(transaction=True)
def test_under_uvicorn_a_client_that_hangs_up_does_not_stop_the_send(server, gate, sent):
    """The view is cancelled, the send in its thread is not: its row ends ``sent``."""
    cancelled.clear()
    body = f"mobile={NUMBER}&content=x".encode()
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as client:
        client.sendall(
            b"POST /send/ HTTP/1.1\r\nHost: %s\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(body), body)
        )
        assert gate.wait_for_arrival()
    assert cancelled.wait(5), "the server did not cancel the view of the hung-up client"
    gate.let_through()
    assert sent.wait(5)
    message = Message.objects.get()
    assert (message.status, message.msgid) == (S.SENT, locmem.outbox[0].msgid)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_under_uvicorn_the_connection_a_send_used_is_closed_with_its_request(
    server, xunchen_outbox
):
    """The send ran on its request's thread, where Django closes old connections when
    the request finishes: no session of the server is left on the database (in a thread
    pool, each pool thread would keep one open for good)."""
    from django.db import connection

    for number in (NUMBER, "13900000000"):
        response = requests.post(f"{server}/send/", {"mobile": number, "content": "x"}, timeout=5)
        assert response.json()["messages"][0]["status"] == "sent"
    assert len(xunchen_outbox) == 2

    def others() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    deadline = time.monotonic() + 3
    while others():  # closed just after the response went out
        assert time.monotonic() < deadline, f"{others()} sessions of the server left open"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_outside_a_request_a_thread_sensitive_context_each_sends_side_by_side(gate, sent):
    """The example of docs/sending.rst, run by asyncio.run (no request, no async_to_sync):
    each task in its own ThreadSensitiveContext has a thread of its own."""
    from asgiref.sync import ThreadSensitiveContext, sync_to_async
    from django.db import connections

    async def notify(mobile: str, text: str) -> None:
        async with ThreadSensitiveContext():
            try:
                await asend_sms(mobile, text)
            finally:
                await sync_to_async(connections.close_all)()

    async def main() -> None:
        first = asyncio.create_task(notify(NUMBER, "一"))
        while not gate.arrivals:  # its rows written: two writers at once on SQLite collide
            await asyncio.sleep(0.01)
        await asyncio.gather(first, notify("13900000000", "二"))

    runner = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    runner.start()
    assert gate.wait_for_arrival() and gate.wait_for_arrival(), "one waited for the other"
    gate.let_through()
    assert sent.wait(5)  # one at a time: two writers at once on SQLite would collide
    gate.let_through()
    runner.join(10)
    assert sorted(s.content for s in locmem.outbox) == ["一", "二"]
    assert list(Message.objects.values_list("status", flat=True)) == [S.SENT, S.SENT]
