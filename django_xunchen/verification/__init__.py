"""Verification codes: request and check a code (never stored in clear), and the
throttles that limit both.
"""

from .codes import (
    CheckStatus,
    CodeCheck,
    CodeRequest,
    RequestStatus,
    check_code,
    client_ip,
    derive_code,
    hash_code,
    mask,
    request_code,
    send_notice,
    volume_today,
)
from .throttles import lift_throttles, seconds_until_next_code

__all__ = [
    "CheckStatus",
    "CodeCheck",
    "CodeRequest",
    "RequestStatus",
    "check_code",
    "client_ip",
    "derive_code",
    "hash_code",
    "lift_throttles",
    "mask",
    "request_code",
    "seconds_until_next_code",
    "send_notice",
    "volume_today",
]
