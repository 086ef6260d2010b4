"""Values whose repr hides them, so that tracebacks, error e-mails and debug pages that
show local variables or settings never show a gateway credential or a verification
code (and the text that carries it).

They are ordinary ``str`` and ``bytes`` everywhere else: the wire gets the real value.
"""

from __future__ import annotations

MASK = "********"


class Secret(str):
    """A password, a communication key, a verification code or a text that carries one:
    ``repr()`` shows ``'********'``. A string made from it (``strip()``, ``format()``,
    ``+``) is a plain ``str`` again: wrap that too."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(MASK)


class SecretBytes(bytes):
    """An encoded form body that carries credentials: ``repr()`` shows its length only."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<form body, {len(self)} bytes, credentials masked>"


def mask(value: object) -> object:
    """``value`` as a :class:`Secret` if it is a non-empty string, else unchanged."""
    if isinstance(value, str) and value and not isinstance(value, Secret):
        return Secret(value)
    return value
