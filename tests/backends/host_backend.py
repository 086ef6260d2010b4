import logging
import uuid
from decimal import Decimal

from django_xunchen.backends.base import BaseSMSBackend
from django_xunchen.client.types import Balance, SendResult

logger = logging.getLogger(__name__)


class LogBackend(BaseSMSBackend):
    """Logs each SMS instead of sending it. Reports and replies: none."""

    sends_externally = False
    tracks_request_start = True

    def send(self, request):
        msgid = uuid.uuid4().hex
        self.mark_request_started()
        logger.info("SMS %s to %s: %s", msgid, ", ".join(request.mobiles), request.content)
        return SendResult(msgid=msgid, mobiles=request.mobiles)

    def get_balance(self):
        return Balance(amount=Decimal(0), messages=0)
