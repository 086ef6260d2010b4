"""Every status code of every operation, over mocked HTTP."""

import pytest
import responses

from django_xunchen import exceptions as exc

from .conftest import URL, status_xml

BALANCE_CODES = {
    "100": exc.RequestFailedError,
    "101": exc.InvalidAccountError,
    "102": exc.AccountDisabledError,
    "103": exc.InvalidParametersError,
    "105": exc.InvalidVeryCodeError,
    "117": exc.AccessMethodNotEnabledError,
}
SEND_CODES = {
    "100": exc.RequestFailedError,
    "101": exc.InvalidAccountError,
    "102": exc.AccountDisabledError,
    "103": exc.InvalidParametersError,
    "105": exc.ContentRejectedError,
    "106": exc.MobilesRejectedError,
    "108": exc.InsufficientBalanceError,
    "109": exc.IPNotAllowedError,
    "110": exc.BlockedWordsError,
    "114": exc.TemplateNotFoundError,
    "115": exc.SignatureNotFoundError,
    "116": exc.InvalidVeryCodeError,
    "117": exc.AccessMethodNotEnabledError,
}
QUERY_CODES = {
    "100": exc.RequestFailedError,
    "101": exc.InvalidAccountError,
    "102": exc.AccountDisabledError,
    "103": exc.InvalidParametersError,
    "105": exc.InvalidVeryCodeError,
    "117": exc.AccessMethodNotEnabledError,
}


def _call(client, operation):
    if operation == "getAmount":
        return client.get_balance()
    if operation == "send":
        return client.send("13800138000", "hello")
    if operation == "queryReport":
        return client.query_reports()
    return client.query_inbound()


CASES = (
    [("getAmount", code, cls) for code, cls in BALANCE_CODES.items()]
    + [("send", code, cls) for code, cls in SEND_CODES.items()]
    + [(op, code, cls) for op in ("queryReport", "queryMo") for code, cls in QUERY_CODES.items()]
)


@pytest.mark.parametrize(("operation", "code", "cls"), CASES)
@responses.activate
def test_status_code_maps_to_its_own_exception(client, operation, code, cls):
    responses.post(URL, body=status_xml(code))
    with pytest.raises(cls) as info:
        _call(client, operation)
    error = info.value
    assert type(error) is cls
    assert error.code == code
    assert error.operation == operation
    assert error.vendor_message, "the vendor's Chinese text is carried"
    assert error.message, "an English text is carried"
    assert code in str(error)


@responses.activate
def test_105_means_different_things(client):
    responses.post(URL, body=status_xml("105"))
    with pytest.raises(exc.InvalidVeryCodeError, match="communication key"):
        client.get_balance()
    with pytest.raises(exc.ContentRejectedError, match="300 characters"):
        client.send("13800138000", "hello")


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("110#(词A,词B)", ["词A", "词B"]),
        ("110#(李老师,XX,成人)", ["李老师", "XX", "成人"]),
        ("110#(单词)", ["单词"]),
        ("110#（全角，括号）", ["全角", "括号"]),
        ("110", []),
    ],
)
@responses.activate
def test_blocked_words(client, status, words):
    responses.post(URL, body=status_xml(status))
    with pytest.raises(exc.BlockedWordsError) as info:
        client.send("13800138000", "hello")
    assert info.value.code == "110"
    assert info.value.words == words


@pytest.mark.parametrize("operation", ["queryReport", "queryMo"])
@responses.activate
def test_104_is_an_empty_list(client, operation):
    responses.post(URL, body=status_xml("104"))
    assert _call(client, operation) == []


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("getAmount", "104"),
        ("getAmount", "116"),
        ("send", "104"),
        ("send", "999"),
        ("queryReport", "108"),
        ("queryMo", "abc"),
    ],
)
@responses.activate
def test_unknown_code_is_an_error_naming_it(client, operation, code):
    responses.post(URL, body=status_xml(code))
    with pytest.raises(exc.UnknownStatusError, match=f"unknown status code {code}") as info:
        _call(client, operation)
    assert info.value.code == code


def test_gateway_errors_pickle():
    import pickle

    error = exc.gateway_error("send", "110#(a,b)")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.words, str(copy)) == ("110", ["a", "b"], str(error))
