"""A sibling service's phone login through the django-xunchen HTTP API (a key with the
"codes" scope): send a code, then check the one the user typed.

    python codes.py send 13800138000 203.0.113.9    # the number, the user's address
    python codes.py check 13800138000 042917        # the number, the code typed
"""

import os
import sys

import requests

API = os.environ["XUNCHEN_API_URL"].rstrip("/")
HEADERS = {"Authorization": f"Bearer {os.environ['XUNCHEN_API_KEY']}"}


def send_code(mobile: str, user_ip: str) -> str:
    """What to tell the user: sent, or how long to wait."""
    answer = requests.post(
        f"{API}/v1/codes",
        json={"mobile": mobile, "purpose": "login", "ip": user_ip},
        headers=HEADERS,
        timeout=30,
    )
    if answer.status_code == 429:  # this number's, address's or key's limit
        return f"wait {answer.headers['Retry-After']} s"
    answer.raise_for_status()
    return answer.json()["status"]


def check_code(mobile: str, code: str) -> bool:
    """Whether ``code`` is right; a right code is used up."""
    answer = requests.post(
        f"{API}/v1/codes/check",
        # A string: a code may start with 0.
        json={"mobile": mobile, "purpose": "login", "code": code},
        headers=HEADERS,
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["verified"]


if __name__ == "__main__":
    action, mobile, value = sys.argv[1:4]
    if action == "send":
        print(send_code(mobile, value))
    else:
        print("verified" if check_code(mobile, value) else "wrong code")
