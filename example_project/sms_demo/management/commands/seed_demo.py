"""For the demo: an admin user and the templates, created once."""

import re

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from django_xunchen.conf import account_names
from django_xunchen.models import EventType, Template, WebhookEndpoint
from django_xunchen.webhooks import endpoints


def demo_name(body: str) -> str:
    """A name staff recognise, from the body: "您的验证码是…，5分钟内有效"."""
    text = re.sub(r"@\d+@", "…", body).strip("。.")
    return text if len(text) <= 20 else text[:19] + "…"


class Command(BaseCommand):
    help = (
        "Create the demo's admin user if missing, and each template on every account "
        "(the fake gateway registers it on every login)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")
        parser.add_argument("--template", action="append", default=[], metavar="ID=BODY")
        parser.add_argument(
            "--webhook-url", default="", help="a webhook endpoint for every event, if missing"
        )

    def handle(self, *args, username, password, template, webhook_url="", **options):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(password)
            user.save()
        for item in template:
            template_id, _, body = item.partition("=")
            for account in account_names():
                Template.objects.get_or_create(
                    account=account,
                    template_id=template_id,
                    defaults={"name": demo_name(body), "body": body},
                )
        if webhook_url and not WebhookEndpoint.objects.filter(url=webhook_url).exists():
            endpoints.save_endpoint(
                WebhookEndpoint(
                    name="Demo receiver", url=webhook_url, events=list(EventType.values)
                )
            )
        self.stdout.write(f"admin user {username!r} {'created' if created else 'exists'}")
