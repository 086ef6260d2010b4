"""Sending: compose a message, admit it (the sending rules) and hand it to dispatch.

``send_sms`` and ``resend`` are here; :mod:`.admission` holds every rule that decides
whether, when and how a message may go out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

if TYPE_CHECKING:
    from .compose import clone_for, prepare_messages, resolve_account, resolve_template
    from .send import can_resend, check_balance, resend, send_sms

_WHERE = {
    "clone_for": "compose",
    "prepare_messages": "compose",
    "resolve_account": "compose",
    "resolve_template": "compose",
    "can_resend": "send",
    "check_balance": "send",
    "resend": "send",
    "send_sms": "send",
}
__all__ = [
    "can_resend",
    "check_balance",
    "clone_for",
    "prepare_messages",
    "resend",
    "resolve_account",
    "resolve_template",
    "send_sms",
]


__getattr__, __dir__ = exports(__name__, _WHERE)
