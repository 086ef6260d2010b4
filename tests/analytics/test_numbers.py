"""Carrier and province by allocation, derived once when a row is written."""

import sys

import pytest
from django.core.management import call_command

from django_xunchen import send_sms
from django_xunchen.analytics import numbers
from django_xunchen.models import Message

#: Segments of each carrier, with the province of their 7-digit block in the data.
KNOWN = [
    ("13800138000", "mobile", "BJ"),
    ("13912345678", "mobile", "JS"),
    ("15012345678", "mobile", "YN"),
    ("18612345678", "unicom", "BJ"),
    ("15512345678", "unicom", "HE"),
    ("13012345678", "unicom", "CQ"),
    ("18912345678", "telecom", "JS"),
    ("13312345678", "telecom", "GZ"),
    ("19212345678", "broadnet", ""),  # allocated nationwide: no province
]


@pytest.mark.parametrize(("mobile", "carrier", "province"), KNOWN)
def test_each_carrier_and_province_of_known_segments(mobile, carrier, province):
    assert numbers.facts(mobile) == (carrier, province)


def test_a_ported_number_keeps_the_carrier_of_its_allocation():
    """13800138000 is China Mobile's segment; if its owner moved to China Telecom (携号
    转网), nothing in the number says so: the facts, and their labels, say so."""
    assert numbers.facts("13800138000")[0] == "mobile"
    assert "by allocation" in str(Message._meta.get_field("carrier").verbose_name)
    assert "by allocation" in str(Message._meta.get_field("province").verbose_name)


def test_numbers_that_are_not_mainland_mobiles_are_unknown():
    assert numbers.facts("1380013800") == ("", "")
    assert numbers.facts("1380013800x") == ("", "")


def test_without_the_data_every_fact_is_unknown(monkeypatch):
    monkeypatch.setitem(sys.modules, "phonenumbers", None)
    numbers._block_facts.cache_clear()
    try:
        assert numbers.facts("13800138000") == ("", "")
        assert not numbers.available()
    finally:
        numbers._block_facts.cache_clear()


@pytest.mark.django_db
def test_every_row_is_stamped_when_written(xunchen_outbox):
    rows = send_sms(["13800138000", "18912345678"], "通知")
    stored = Message.objects.filter(pk__in=[r.pk for r in rows]).order_by("mobile")
    assert [(m.carrier, m.province) for m in stored] == [("mobile", "BJ"), ("telecom", "JS")]


@pytest.mark.django_db
def test_the_command_fills_rows_written_before_in_batches(xunchen_outbox, capsys):
    send_sms(["13800138000", "18612345678", "13312345678"], "通知")
    Message.objects.update(carrier="", province="")
    call_command("sms_number_facts", batch_size=2)
    assert set(Message.objects.values_list("carrier", "province")) == {
        ("mobile", "BJ"),
        ("unicom", "BJ"),
        ("telecom", "GZ"),
    }
    assert "3" in capsys.readouterr().out
