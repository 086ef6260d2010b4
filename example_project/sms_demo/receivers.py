"""What a host app does with django-xunchen's signals."""

import logging

from django.dispatch import receiver

from django_xunchen.signals import (
    inbound_received,
    message_failed,
    opted_in,
    opted_out,
    report_received,
)

logger = logging.getLogger("sms_demo")


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
def log_reply(sender, inbound, message, **kwargs):
    logger.info("reply from %s: %s", inbound.mobile, inbound.content)


@receiver(opted_out)
def log_opt_out(sender, mobile, suppression, reply, **kwargs):
    # django-xunchen already keeps the number off marketing; a host would also update,
    # say, its CRM here.
    logger.info("%s opted out (%s)", mobile, suppression.get_source_display())


@receiver(opted_in)
def log_opt_in(sender, mobile, reply, **kwargs):
    logger.info("%s opted back in", mobile)
