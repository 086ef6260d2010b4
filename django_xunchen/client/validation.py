"""Checks the gateway would make, made before anything leaves the machine."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..exceptions import (
    InvalidContentError,
    InvalidExtcodeError,
    InvalidMobileError,
    InvalidSendTimeError,
    InvalidTemplateParamsError,
)
from .secret import Secret
from .types import CHINA_TZ, NORMAL, TEMPLATE, Mobiles, SendRequest

MAX_MOBILES = 100
MAX_CONTENT_LENGTH = 300
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "gbk": "gbk"}

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_SEPARATORS = re.compile(r"[\s\-()（）]+")
_PREFIX = re.compile(r"^(?:\+86|0086|86)(?=1[0-9]{10}$)")
_EXTCODE = re.compile(r"[0-9]{1,4}")
_PLACEHOLDER = re.compile(r"@([0-9]+)@")
_TEMPLATE_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
#: Line breaks and tabs are text; every other control character is refused.
_ALLOWED_CONTROLS = frozenset("\n\r\t")
#: The latest time the gateway's ``yyyyMMddHHmmss`` field can carry.
MAX_SEND_AT = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=CHINA_TZ)

Params = Mapping[int | str, object] | Sequence[object]


def normalize_encoding(encoding: str) -> str:
    """``"utf-8"`` or ``"gbk"``; anything else is a :class:`ValueError`."""
    try:
        return ENCODINGS[encoding.strip().lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"encoding must be 'utf-8' or 'gbk', not {encoding!r}") from None


def ascii_digits(text: str) -> str:
    """Full-width digits and signs (from Chinese input methods and spreadsheets) as ASCII.

    NFKC maps ``１３８`` to ``138`` and ``＋`` to ``+``; digits of other scripts (Arabic-Indic,
    Devanagari, …) stay as they are, for the caller to refuse.
    """
    return unicodedata.normalize("NFKC", text)


def phone_number_parts(value: object) -> tuple[int, int] | None:
    """``(country code, national number)`` of a phone-number object, or ``None``.

    Duck typing: any object with integer ``country_code`` and ``national_number``
    attributes, as ``phonenumbers.PhoneNumber`` and django-phonenumber-field's
    ``PhoneNumber`` have, without importing either. An object with an extension is
    not a mobile number (``None``), nor is one whose number could not be parsed.
    """
    if isinstance(value, (str, int, bytes)):
        return None
    country = getattr(value, "country_code", None)
    national = getattr(value, "national_number", None)
    if getattr(value, "extension", None):
        return None
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (country, national)):
        return None
    if getattr(value, "italian_leading_zero", False) or not 0 < national < 10**15:  # type: ignore[operator]
        return None  # +86 0138…, or no phone number at all
    return country, national  # type: ignore[return-value]


def _shown(value: object) -> str:
    """A bad value as an error names it: a phone-number object in E.164."""
    parts = phone_number_parts(value)
    if parts is not None:
        return f"+{parts[0]}{parts[1]}"
    if isinstance(value, int) and not isinstance(value, bool) and not -(10**20) < value < 10**20:
        return f"<an integer of {value.bit_length()} bits>"
    if isinstance(value, (str, int)):
        return str(value).strip()
    try:
        shown = repr(value)
    except Exception:  # a hostile object's repr
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= 80 else shown[:77] + "..."


def normalize_mobile(value: object) -> str | None:
    """The 11-digit form of a mainland mobile number, or ``None`` if it is not one.

    Accepts ``+86``, ``0086`` and ``86`` prefixes, spaces, dashes and brackets, and
    full-width digits. Digits of any other script are refused. A phone-number object
    (``phonenumbers.PhoneNumber``, django-phonenumber-field's ``PhoneNumber``; see
    :func:`phone_number_parts`) is accepted when it is a +86 mobile number.
    """
    parts = phone_number_parts(value)
    if parts is not None:
        country, national = parts
        text = str(national)
        return text if country == 86 and _MOBILE.fullmatch(text) else None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return None
    if isinstance(value, int) and not 0 < value < 10**20:
        return None  # str() of a huge int raises; no number is that long
    text = _SEPARATORS.sub("", ascii_digits(str(value)))
    text = _PREFIX.sub("", text)
    return text if _MOBILE.fullmatch(text) else None


def split_mobiles(mobiles: Mobiles) -> list[object]:
    """A string may hold several numbers separated by commas, semicolons or new lines."""
    if isinstance(mobiles, str):
        return [part for part in re.split(r"[,，;；\n\r]+", mobiles) if part.strip()]
    if isinstance(mobiles, int) and not isinstance(mobiles, bool):
        return [mobiles]
    if hasattr(mobiles, "national_number"):  # one phone-number object, good or bad
        return [mobiles]
    if mobiles is None:
        raise InvalidMobileError("no mobile number given (mobiles is None)")
    if isinstance(mobiles, (bytes, bytearray, Mapping)) or not isinstance(mobiles, Iterable):
        raise InvalidMobileError(
            "mobiles must be a string or a list of numbers, not " + type(mobiles).__name__,
            invalid=[_shown(mobiles)],
        )
    return list(mobiles)


def validate_mobiles(mobiles: Mobiles, *, limit: int | None = None) -> list[str]:
    """Normalise every number, drop duplicates (first one wins), keep the order.

    Raises :class:`InvalidMobileError` naming every bad value, or when there are none,
    or more than ``limit``.
    """
    values = split_mobiles(mobiles)
    valid: list[str] = []
    invalid: list[str] = []
    seen: set[str] = set()
    for value in values:
        number = normalize_mobile(value)
        if number is None:
            invalid.append(_shown(value))
        elif number not in seen:
            seen.add(number)
            valid.append(number)
    if invalid:
        shown = ", ".join(repr(v) for v in invalid)
        foreign = [v for v in invalid if v.startswith("+") and not v.startswith("+86")]
        if foreign:
            shown += " (the gateway delivers to mainland China numbers only, +86)"
        raise InvalidMobileError(f"not a mainland China mobile number: {shown}", invalid=invalid)
    if not valid:
        raise InvalidMobileError("no mobile number given")
    if limit is not None and len(valid) > limit:
        raise InvalidMobileError(f"{len(valid)} numbers given; one request takes at most {limit}")
    return valid


def check_encodable(text: str, encoding: str, what: str = "content") -> None:
    try:
        text.encode(encoding)
    except UnicodeEncodeError as exc:
        char = text[exc.start]
        raise InvalidContentError(
            f"{what} cannot be sent as {encoding.upper()}: character {char!r} "
            f"(U+{ord(char):04X}) at position {exc.start}"
        ) from None


def check_characters(text: str, what: str = "content", error: type = InvalidContentError) -> None:
    """Refuse control characters (NUL, escape, …) other than line breaks and tabs, and
    lone surrogates: no handset shows them and the gateway's behaviour is undefined."""
    for position, char in enumerate(text):
        category = unicodedata.category(char)
        if (category == "Cc" and char not in _ALLOWED_CONTROLS) or category == "Cs":
            raise error(
                f"{what} contains the control character U+{ord(char):04X} at position {position}"
            )


def validate_content(content: object, encoding: str = "utf-8") -> str:
    """Non-blank text of at most 300 characters that the encoding can carry."""
    if not isinstance(content, str):
        raise InvalidContentError(f"content must be text, not {type(content).__name__}")
    if not content.strip():
        raise InvalidContentError("content is blank")
    check_characters(content)
    if len(content) > MAX_CONTENT_LENGTH:
        raise InvalidContentError(
            f"content is {len(content)} characters long; the gateway takes at most "
            f"{MAX_CONTENT_LENGTH}"
        )
    check_encodable(content, normalize_encoding(encoding))
    return content


def placeholders(body: str) -> list[int]:
    """The distinct placeholder numbers of a template body (``@1@`` → 1), sorted."""
    return sorted({int(n) for n in _PLACEHOLDER.findall(body)})


def normalize_params(params: Params | None) -> tuple[tuple[int, str], ...]:
    """``{1: "a", "2": "b"}`` or ``["a", "b"]`` → ``((1, "a"), (2, "b"))``.

    Values may not contain ``,`` or ``=``: the gateway uses them to delimit the list.
    """
    if params is None:
        return ()
    if isinstance(params, Mapping):
        items = list(params.items())
    elif isinstance(params, (str, bytes)):
        raise InvalidTemplateParamsError("params must be a mapping or a list, not a string")
    else:
        items = list(enumerate(params, start=1))
    result: dict[int, str] = {}
    for key, value in items:
        text_key = ascii_digits(str(key)).strip().strip("@")
        if not re.fullmatch(r"[0-9]+", text_key) or int(text_key) < 1:
            raise InvalidTemplateParamsError(
                f"template parameter names are positive numbers (1 for @1@), not {key!r}"
            )
        number = int(text_key)
        if number in result:
            raise InvalidTemplateParamsError(f"template parameter {number} is given twice")
        if value is None:
            raise InvalidTemplateParamsError(f"template parameter {number} has no value")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise InvalidTemplateParamsError(
                f"template parameter {number} must be text or a number, not {type(value).__name__}"
            )
        text = str(value)
        check_characters(text, f"template parameter {number}", InvalidTemplateParamsError)
        bad = sorted({c for c in text if c in ",="})
        if bad:
            raise InvalidTemplateParamsError(
                f"template parameter {number} contains {' and '.join(repr(c) for c in bad)}, "
                "which the gateway uses as delimiters"
            )
        result[number] = text
    return tuple(sorted(result.items()))


def format_params(params: Sequence[tuple[int, str]]) -> str:
    """The template variables as the gateway takes them: ``@1@=v1,@2@=v2``."""
    return ",".join(f"@{n}@={v}" for n, v in params)


def render_template(body: str, params: Sequence[tuple[int, str]]) -> str:
    """The text the handset will show (without the signature)."""
    values = dict(params)
    return _PLACEHOLDER.sub(lambda m: values.get(int(m.group(1)), m.group(0)), body)


def check_params_match(body: str, params: Sequence[tuple[int, str]]) -> None:
    """Every placeholder of ``body`` has a value and every value has a placeholder."""
    wanted = set(placeholders(body))
    given = {n for n, _ in params}
    missing, extra = sorted(wanted - given), sorted(given - wanted)
    problems = []
    if missing:
        problems.append("missing " + ", ".join(f"@{n}@" for n in missing))
    if extra:
        problems.append("not in the template: " + ", ".join(f"@{n}@" for n in extra))
    if problems:
        raise InvalidTemplateParamsError("template parameters: " + "; ".join(problems))


def validate_extcode(extcode: object) -> str | None:
    if extcode is None or extcode == "":
        return None
    if isinstance(extcode, bool) or not isinstance(extcode, (str, int)):
        raise InvalidExtcodeError(f"extcode must be 1 to 4 digits, not {extcode!r}")
    text = ascii_digits(str(extcode)).strip()
    if not _EXTCODE.fullmatch(text):
        raise InvalidExtcodeError(f"extcode must be 1 to 4 digits, not {extcode!r}")
    return text


def validate_send_at(
    send_at: dt.datetime | None, *, now: Callable[[], dt.datetime] | None = None
) -> dt.datetime | None:
    if send_at is None:
        return None
    if not isinstance(send_at, dt.datetime):
        raise InvalidSendTimeError(f"send time must be a datetime, not {type(send_at).__name__}")
    if send_at.tzinfo is None or send_at.utcoffset() is None:
        raise InvalidSendTimeError("send time must be timezone-aware")
    current = now() if now else dt.datetime.now(dt.timezone.utc)
    if send_at <= current:
        raise InvalidSendTimeError(f"send time {send_at.isoformat()} is not in the future")
    check_wire_time(send_at, "send time")
    return send_at


def check_wire_time(value: dt.datetime, what: str) -> None:
    """The gateway takes times as ``yyyyMMddHHmmss`` in China Standard Time: refuse one
    that does not fit (or overflows on the way there)."""
    try:
        fits = value.astimezone(CHINA_TZ) <= MAX_SEND_AT
    except (OverflowError, ValueError):
        fits = False
    if not fits:
        raise InvalidSendTimeError(
            f"{what} {value.isoformat()} is later than the gateway can carry "
            f"({MAX_SEND_AT:%Y-%m-%d %H:%M:%S} China Standard Time)"
        )


def validate_template_id(template_id: object) -> str:
    """A vendor template id such as ``JSM40001-0001``: letters, digits, ``-_.:``."""
    if not isinstance(template_id, str):
        raise InvalidTemplateParamsError(
            f"template id must be text, not {type(template_id).__name__}"
        )
    text = ascii_digits(template_id).strip()
    if not text:
        raise InvalidTemplateParamsError("template id is blank")
    if not _TEMPLATE_ID.fullmatch(text):
        raise InvalidTemplateParamsError(
            f"template id {template_id!r} is not a vendor template id: letters, digits, "
            "'-', '_', '.' and ':', at most 64"
        )
    return text


def validate_sign_index(sign_index: object) -> int | None:
    if sign_index is None:
        return None
    if isinstance(sign_index, bool) or not isinstance(sign_index, int) or sign_index < 1:
        raise ValueError(f"sign index must be a positive integer, not {sign_index!r}")
    return sign_index


def build_send_request(
    mobiles: Mobiles,
    content: str | None = None,
    *,
    template_id: str | None = None,
    params: Params | None = None,
    template_body: str | None = None,
    extcode: object = None,
    send_at: dt.datetime | None = None,
    sign_index: int | None = None,
    encoding: str = "utf-8",
    max_mobiles: int | None = MAX_MOBILES,
    sensitive: bool = False,
) -> SendRequest:
    """Validate a submission and return it ready for :meth:`XunchenClient.submit`.

    A normal message takes ``content``. A template message takes ``template_id`` and
    ``params``; when ``template_body`` is known the params are checked against its
    placeholders. Every check runs before anything is sent.

    ``sensitive`` (or a ``content`` or param value that is a
    :class:`~.secret.Secret`): the text carries a secret, a verification code. The
    request then holds its text as ``Secret`` strings and masks it in its repr
    (:class:`~.types.SendRequest`).
    """
    sensitive = sensitive or _carries_secret(content, params)
    encoding = normalize_encoding(encoding)
    numbers = validate_mobiles(mobiles, limit=max_mobiles)
    extcode = validate_extcode(extcode)
    send_at = validate_send_at(send_at)
    sign_index = validate_sign_index(sign_index)
    if template_id is None:
        if params:
            raise InvalidTemplateParamsError("params are only used with a template")
        text = validate_content(content, encoding)
        return SendRequest(
            mobiles=tuple(numbers),
            content=Secret(text) if sensitive else text,
            msgtype=NORMAL,
            extcode=extcode,
            send_at=send_at,
            sign_index=sign_index,
            sensitive=sensitive,
        )
    template_id = validate_template_id(template_id)
    if content is not None:
        raise InvalidContentError("give either content or a template, not both")
    pairs = normalize_params(params)
    if sensitive:
        pairs = tuple((number, Secret(value)) for number, value in pairs)
    if template_body is not None:
        check_params_match(template_body, pairs)
    for number, value in pairs:
        check_encodable(value, encoding, what=f"template parameter {number}")
    body = format_params(pairs)
    if len(body) > MAX_CONTENT_LENGTH:
        raise InvalidTemplateParamsError(
            f"template parameters come to {len(body)} characters; the gateway takes at most "
            f"{MAX_CONTENT_LENGTH}"
        )
    return SendRequest(
        mobiles=tuple(numbers),
        content=Secret(body) if sensitive else body,
        msgtype=TEMPLATE,
        template_id=template_id,
        params=pairs,
        extcode=extcode,
        send_at=send_at,
        sign_index=sign_index,
        sensitive=sensitive,
    )


def _carries_secret(content: object, params: object) -> bool:
    if isinstance(content, Secret):
        return True
    if isinstance(params, Mapping):
        return any(isinstance(v, Secret) for v in params.values())
    if isinstance(params, (list, tuple)):  # never an iterator: that would consume it
        return any(isinstance(v, Secret) for v in params)
    return False
