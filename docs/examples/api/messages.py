"""Every message of one tag, page after page, through the django-xunchen HTTP API (a
key with the "read" scope): a count per status.

    XUNCHEN_API_URL=https://sms.example.com/sms/api XUNCHEN_API_KEY=xc_… \
        python messages.py orders
"""

import collections
import os
import sys
from collections.abc import Iterator

import requests

API = os.environ["XUNCHEN_API_URL"].rstrip("/")
KEY = os.environ["XUNCHEN_API_KEY"]


def messages(session: requests.Session, **filters: str) -> Iterator[dict]:
    """Newest first; ``next`` is the cursor of the following page, None on the last."""
    query = {**filters, "limit": "200"}
    while True:
        answer = session.get(f"{API}/v1/messages", params=query, timeout=30)
        answer.raise_for_status()
        page = answer.json()
        yield from page["messages"]
        if page["next"] is None:
            return
        query["cursor"] = page["next"]


def main() -> None:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {KEY}"
        counts = collections.Counter(m["status"] for m in messages(session, tag=sys.argv[1]))
    for status, count in sorted(counts.items()):
        print(f"{status}: {count}")


if __name__ == "__main__":
    main()
