"""A local gateway that speaks the Xunchen protocol, for tests, demos and development.

Run it with ``python -m django_xunchen.fake_gateway --port 8030``, or in-process with
:class:`FakeGateway`. It imports nothing from Django.
"""

from .server import ENDPOINT_PATH, FakeGateway, decode_form
from .state import Account, Fault, GatewayState, ReplyRecord, ReportRecord, Submission

__all__ = [
    "ENDPOINT_PATH",
    "Account",
    "FakeGateway",
    "Fault",
    "GatewayState",
    "ReplyRecord",
    "ReportRecord",
    "Submission",
    "decode_form",
]
