"""Phone-number objects (phonenumbers' and django-phonenumber-field's) are taken wherever
a mobile is: a +86 mobile is normalised, any other country is refused with a clear error
before anything is written, and the protocol client imports neither package."""

import subprocess
import sys
import types

import phonenumbers
import pytest
from phonenumber_field.formfields import PhoneNumberField
from phonenumber_field.phonenumber import PhoneNumber, to_python

from django_xunchen import send_sms
from django_xunchen.client import validate_mobiles
from django_xunchen.consent.api import grant_consent, has_consent
from django_xunchen.exceptions import InvalidMobileError
from django_xunchen.models import Consent, Message, Suppression
from django_xunchen.policy.suppression import suppress, unsuppress
from django_xunchen.testing import last_code
from django_xunchen.verification import RequestStatus, check_code, request_code

pytestmark = pytest.mark.django_db
NUMBER = "13800138000"


def field_number(text: str = "+86 138 0013 8000") -> PhoneNumber:
    return PhoneNumber.from_string(text)


def library_number(text: str = "+8613800138000") -> phonenumbers.PhoneNumber:
    return phonenumbers.parse(text)


@pytest.mark.parametrize("make", [field_number, library_number])
def test_a_mainland_number_object_is_sent_to(make, xunchen_outbox):
    send_sms(make(), "您好")
    send_sms([make(), "13900139000"], "您好")
    assert [m.mobile for m in Message.objects.order_by("id")] == [NUMBER, NUMBER, "13900139000"]
    assert list(xunchen_outbox[0].mobiles) == [NUMBER]


def test_a_host_form_field_value_is_sent_to(xunchen_outbox):
    """What a host's PhoneNumberField (model or form) hands over."""
    value = PhoneNumberField(region="CN").clean("138 0013 8000")
    send_sms(value, "您好")
    assert Message.objects.get().mobile == NUMBER


@pytest.mark.parametrize(
    "make",
    [
        lambda: field_number("+1 202 555 0123"),
        lambda: library_number("+12025550123"),
        lambda: library_number("+85291234567"),
        # Another country's number that looks like a mainland one without its code.
        lambda: types.SimpleNamespace(country_code=852, national_number=13800138000),
    ],
)
def test_another_country_is_refused_clearly_before_anything_is_written(make, xunchen_outbox):
    number = make()
    with pytest.raises(InvalidMobileError) as caught:
        send_sms([NUMBER, number], "您好")
    shown = f"+{number.country_code}{number.national_number}"
    assert caught.value.invalid == [shown]
    assert shown in str(caught.value) and "mainland China numbers only" in str(caught.value)
    assert not Message.objects.exists() and xunchen_outbox == []


def test_a_mainland_landline_or_an_unparsed_number_is_refused():
    landline = library_number("+861012345678")
    unparsed = to_python("not a number")
    extension = library_number("+8613800138000")
    extension.extension = "12"
    for number in (landline, unparsed, extension):
        with pytest.raises(InvalidMobileError):
            validate_mobiles(number)


@pytest.mark.django_db(transaction=True)
def test_codes_take_a_number_object(xunchen_outbox, code_nowhere, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {"COOLDOWN": 60}}
    assert request_code(field_number(), "login").sent
    code = last_code(NUMBER)
    code_nowhere(code)
    # The same number, written as the other kind of object or as a string: one cooldown.
    assert request_code(library_number(), "login").status == RequestStatus.THROTTLED
    assert request_code("+86 138-0013-8000", "login").status == RequestStatus.THROTTLED
    assert len(xunchen_outbox) == 1
    assert check_code(library_number(), code, "login").verified


def test_suppression_and_consent_take_a_number_object():
    suppress(field_number(), source=Suppression.Source.STAFF)
    assert Suppression.objects.get().mobile == NUMBER
    assert unsuppress(library_number())
    grant_consent(field_number())
    assert Consent.objects.latest("id").mobile == NUMBER
    assert has_consent(library_number())


def test_the_protocol_client_imports_neither_django_nor_phonenumbers():
    script = (
        "import sys, types, django_xunchen.client as c;"
        "number = types.SimpleNamespace(country_code=86, national_number=13800138000);"
        "print(c.validate_mobiles(number));"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'phonenumbers'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["['13800138000']", "[]"]


@pytest.mark.parametrize(
    "value",
    [
        10**5000,
        types.SimpleNamespace(country_code=86, national_number=10**5000),
        phonenumbers.PhoneNumber(
            country_code=86, national_number=13800138000, italian_leading_zero=True
        ),
    ],
    ids=["huge int", "huge national number", "leading zero"],
)
def test_hostile_numbers_are_refused_clearly(value, xunchen_outbox):
    with pytest.raises(InvalidMobileError):
        send_sms(value, "您好")
    assert not Message.objects.exists() and xunchen_outbox == []
