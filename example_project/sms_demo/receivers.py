"""What a host app does with django-xunchen's signals."""

import logging

from django.dispatch import receiver

from django_xunchen.signals import inbound_received, message_failed, report_received

from .models import OptOut

logger = logging.getLogger("sms_demo")
OPT_OUT_WORDS = ("退订", "TD", "T", "STOP")


def is_opt_out(text: str) -> bool:
    cleaned = text.strip().upper()
    return "退订" in cleaned or cleaned in OPT_OUT_WORDS


@receiver(report_received)
def log_report(sender, report, message, delivered, **kwargs):
    if message is None:
        logger.info("report for an unknown message: %s %s", report.mobile, report.status)
    elif delivered:
        logger.info("delivered to %s: %s", message.mobile, message.preview)
    else:
        logger.warning("not delivered to %s (%s)", message.mobile, report.status)


@receiver(message_failed)
def log_failure(sender, message, error, **kwargs):
    logger.warning("message %s to %s: %s", message.pk, message.mobile, error)


@receiver(inbound_received)
def handle_reply(sender, inbound, message, **kwargs):
    if is_opt_out(inbound.content):
        OptOut.objects.get_or_create(mobile=inbound.mobile, defaults={"reply": inbound})
        logger.info("%s opted out", inbound.mobile)
    else:
        logger.info("reply from %s: %s", inbound.mobile, inbound.content)
