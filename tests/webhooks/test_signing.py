"""Webhook signatures: what a receiver accepts, and what it refuses without giving the
secret or the expected signature away."""

import hashlib
import hmac
import re

import pytest

from django_xunchen.webhooks import signing
from django_xunchen.webhooks.signing import SignatureError, header, signature, verify

SECRET = "whsec_s3cr3t-for-the-tests"
BODY = b'{"id":"7d1b3c52-4e0a-4f7e-9a51-2f0c8d6b9e13","type":"message.delivered","data":{}}'
NOW = 1796551200


def refusal(secret: str, body: bytes, value: str, **kwargs) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(secret, body, value, **kwargs)
    text = str(caught.value)
    for shown in (text, repr(caught.value)):
        assert secret not in shown
        assert not re.search(r"[0-9a-f]{64}", shown), "no signature, expected or received"
    return text


def test_the_documented_example():
    body = b'{"id":"7d1b3c52-4e0a-4f7e-9a51-2f0c8d6b9e13","type":"message.delivered"}'
    expected = "t=1796551200,v1=c9e2eb2f212c8dc96075047aec508cbbd64bac8d704c3d9288f8330d1bfece25"
    assert header("whsec_example", body, 1796551200) == expected
    assert expected in signing.__doc__


def test_signature_is_the_hmac_of_the_timestamp_a_full_stop_and_the_body():
    mac = hmac.new(SECRET.encode(), b"1796551200." + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, NOW, BODY) == mac
    assert header(SECRET, BODY, NOW) == f"t={NOW},v1={mac}"


def test_round_trip():
    assert verify(SECRET, BODY, header(SECRET, BODY, NOW), now=NOW) == NOW


def test_header_is_signed_now_by_default():
    value = header(SECRET, BODY)
    assert verify(SECRET, BODY, value) == int(re.match(r"t=(\d+),", value).group(1))


def test_a_tampered_body_is_refused():
    value = header(SECRET, BODY, NOW)
    assert "matches" in refusal(SECRET, BODY.replace(b"delivered", b"failed"), value, now=NOW)
    assert "matches" in refusal(SECRET, BODY + b" ", value, now=NOW)


def test_a_wrong_secret_is_refused():
    value = header("whsec_another", BODY, NOW)
    assert "matches" in refusal(SECRET, BODY, value, now=NOW)


def test_a_changed_timestamp_is_refused():
    mac = signature(SECRET, NOW - 3600, BODY)
    assert "matches" in refusal(SECRET, BODY, f"t={NOW},v1={mac}", now=NOW)


@pytest.mark.parametrize("age", [301, 3600, NOW])
def test_an_old_signature_is_refused(age):
    text = refusal(SECRET, BODY, header(SECRET, BODY, NOW - age), now=NOW)
    assert "300 seconds" in text


def test_a_signature_from_the_future_beyond_the_tolerance_is_refused():
    assert "300 seconds" in refusal(SECRET, BODY, header(SECRET, BODY, NOW + 301), now=NOW)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_within_the_tolerance_either_way(offset):
    assert verify(SECRET, BODY, header(SECRET, BODY, NOW + offset), now=NOW) == NOW + offset


def test_the_tolerance_is_a_parameter():
    value = header(SECRET, BODY, NOW - 20)
    assert verify(SECRET, BODY, value, tolerance=20, now=NOW) == NOW - 20
    assert "10 seconds" in refusal(SECRET, BODY, value, tolerance=10, now=NOW)


@pytest.mark.parametrize(
    "value",
    [
        "",
        ",",
        "garbage",
        "v1=abc",
        "t=,v1=abc",
        f"t={NOW}",
        f"t={NOW},v2=abc",
        f"t={NOW}v1=abc",
        f"t=-{NOW},v1=abc",
        f"t=+{NOW},v1=abc",
        f"t={NOW}.5,v1=abc",
        "t=１２３,v1=abc",
        f"t={NOW},t={NOW},v1=abc",
        f"t={NOW};v1=abc",
    ],
)
def test_a_malformed_header_is_refused(value):
    assert "malformed" in refusal(SECRET, BODY, value, now=NOW)


def test_a_malformed_header_is_refused_even_with_a_valid_signature_in_it():
    mac = signature(SECRET, NOW, BODY)
    assert "malformed" in refusal(SECRET, BODY, f"t={NOW},t={NOW - 1},v1={mac}", now=NOW)


def test_spaces_and_other_entries_are_tolerated():
    mac = signature(SECRET, NOW, BODY)
    assert verify(SECRET, BODY, f" t={NOW} , v0=old, v1={mac}, scheme-2 ", now=NOW) == NOW


@pytest.mark.parametrize("value", [f"t={NOW},v1", f"t={NOW},v1=", f"t={NOW},v1=,v1=00"])
def test_an_empty_signature_matches_nothing(value):
    assert "matches" in refusal(SECRET, BODY, value, now=NOW)


def test_a_non_ascii_candidate_is_a_mismatch_not_a_crash():
    assert "matches" in refusal(SECRET, BODY, f"t={NOW},v1=签名", now=NOW)


def test_rotation_one_matching_v1_of_several_is_enough():
    old, new = "whsec_old", SECRET
    value = f"t={NOW},v1={signature(old, NOW, BODY)},v1={signature(new, NOW, BODY)}"
    assert verify(new, BODY, value, now=NOW) == NOW
    assert verify(old, BODY, value, now=NOW) == NOW
    assert "matches" in refusal("whsec_third", BODY, value, now=NOW)


def test_new_secrets_are_prefixed_random_and_long():
    made = {signing.new_secret() for _ in range(50)}
    assert len(made) == 50
    for secret in made:
        assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", secret)


def test_signature_error_is_a_value_error():
    assert issubclass(SignatureError, ValueError)
