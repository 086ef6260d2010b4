"""The Xunchen HTTP protocol, with no Django in it.

>>> from django_xunchen.client import XunchenClient
>>> client = XunchenClient("http://127.0.0.1:8030", "JSM40001", "secret", "key")
>>> client.send(["13800138000"], "您的验证码是 123456")  # doctest: +SKIP
SendResult(msgid='816f333305664fb9bdd8c1bc96ae12b8', mobiles=('13800138000',))
"""

from .http import ENDPOINT_PATH, USER_AGENT, XunchenClient, endpoint_url
from .parsing import (
    RecordScan,
    parse_balance,
    parse_inbound,
    parse_reports,
    parse_send,
    scan_inbound,
    scan_reports,
)
from .types import (
    CHINA_TZ,
    NORMAL,
    TEMPLATE,
    Balance,
    DeliveryReport,
    InboundSMS,
    RawResponse,
    SendRequest,
    SendResult,
)
from .validation import (
    MAX_CONTENT_LENGTH,
    MAX_MOBILES,
    build_send_request,
    check_params_match,
    format_params,
    normalize_mobile,
    normalize_params,
    placeholders,
    render_template,
    validate_content,
    validate_mobiles,
)

__all__ = [
    "CHINA_TZ",
    "ENDPOINT_PATH",
    "MAX_CONTENT_LENGTH",
    "MAX_MOBILES",
    "NORMAL",
    "TEMPLATE",
    "USER_AGENT",
    "Balance",
    "DeliveryReport",
    "InboundSMS",
    "RawResponse",
    "RecordScan",
    "SendRequest",
    "SendResult",
    "XunchenClient",
    "build_send_request",
    "check_params_match",
    "endpoint_url",
    "format_params",
    "normalize_mobile",
    "normalize_params",
    "parse_balance",
    "parse_inbound",
    "parse_reports",
    "parse_send",
    "placeholders",
    "render_template",
    "scan_inbound",
    "scan_reports",
    "validate_content",
    "validate_mobiles",
]
