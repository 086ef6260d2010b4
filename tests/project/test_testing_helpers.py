"""The helpers we ship for host projects' tests."""

import pytest
from django.test import TestCase

import django_xunchen
from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import Message
from django_xunchen.testing import XunchenTestMixin


@pytest.mark.django_db(transaction=True)
def test_xunchen_gateway_fixture_points_the_settings_at_a_live_fake(xunchen_gateway, settings):
    assert settings.XUNCHEN["BASE_URL"] == xunchen_gateway.base_url
    send_sms("13800138000", "through real HTTP")
    assert xunchen_gateway.submissions[0].text == "through real HTTP"
    assert poll().reports_matched == 1
    assert Message.objects.get().status == "delivered"


def test_outbox_starts_empty_in_every_test_a():
    locmem.outbox.append("left over")


def test_outbox_starts_empty_in_every_test_b(xunchen_outbox):
    assert xunchen_outbox == []
    assert django_xunchen.outbox is xunchen_outbox


class MixinTests(XunchenTestMixin, TestCase):
    def test_outbox_is_emptied_and_sends_land_in_it(self):
        self.assertEqual(django_xunchen.outbox, [])
        send_sms("13800138000", "from a TestCase")
        self.assertEqual(len(django_xunchen.outbox), 1)
        self.assertEqual(Message.objects.get().status, "sent")
