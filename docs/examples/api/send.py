"""Send an order's notice through the django-xunchen HTTP API, safe to retry.

    XUNCHEN_API_URL=https://sms.example.com/sms/api XUNCHEN_API_KEY=xc_… \
        python send.py 1042 13800138000

The Idempotency-Key is made from the order, so a retry after a timeout, a dropped
connection or a crash of this script sends nothing more: the API answers with the first
request's messages.
"""

import os
import sys
import time

import requests

API = os.environ["XUNCHEN_API_URL"].rstrip("/")
KEY = os.environ["XUNCHEN_API_KEY"]


class SMSError(Exception):
    """The API refused the send: its status, stable code and message."""


def send_order_notice(session: requests.Session, order: int, mobile: str) -> list[dict]:
    body = {
        "mobile": mobile,
        "content": f"您的订单 {order} 已发货",
        "kind": "notification",
        "tags": ["orders"],
        "metadata": {"order": order},
    }
    headers = {"Idempotency-Key": f"order-{order}-shipped"}
    for attempt in range(5):
        try:
            answer = session.post(f"{API}/v1/messages", json=body, headers=headers, timeout=30)
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(2**attempt)  # the same key again: at most one SMS goes out
            continue
        if answer.status_code == 201:
            return answer.json()["messages"]
        try:
            error = answer.json()["error"]
        except (ValueError, KeyError):  # not the API's answer: a proxy's error page
            error = {"code": "proxy", "message": answer.reason}
        if answer.status_code == 429 or error["code"] in ("in_progress", "proxy"):
            time.sleep(float(answer.headers.get("Retry-After", 2**attempt)))
            continue
        raise SMSError(f"{answer.status_code} {error['code']}: {error['message']}")
    raise SMSError("the SMS API did not answer")


def main() -> None:
    order, mobile = int(sys.argv[1]), sys.argv[2]
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {KEY}"
        for message in send_order_notice(session, order, mobile):
            print(f"order {order}: message {message['id']} to {message['mobile']}", end=" ")
            print(message["status"])


if __name__ == "__main__":
    main()
