"""Blocked words: those configured and those learned from the gateway's refusals."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from ..models import BlockedWord, Message

logger = logging.getLogger("django_xunchen.policy")


_learned = [0]


def learned_generation() -> int:
    """Grows each time this process learns a word: a cache of the words is then stale."""
    return _learned[0]


def learn_blocked_words(account: str, words: Iterable[str], source: Message | None) -> list[str]:
    """Remember words the gateway refused on ``account``; returns the new ones."""
    learned = []
    for word in {w.strip() for w in words if w and w.strip()}:
        try:
            with transaction.atomic():
                BlockedWord.objects.create(account=account, word=word[:100], source=source)
        except IntegrityError:
            continue
        learned.append(word)
    if learned:
        _learned[0] += 1
        logger.warning("learned blocked words on account %r: %s", account, ", ".join(learned))
    return learned


def set_blocked_words_active(words: QuerySet[BlockedWord], active: bool) -> int:
    """Put ``words`` back in force (``active``) or out of it (staff, from the admin);
    returns how many rows were written."""
    return words.update(is_active=active)


def learned_words(account: str) -> list[str]:
    """The words the gateway refused on ``account``, still in force."""
    return list(
        BlockedWord.objects.filter(account=account, is_active=True).values_list("word", flat=True)
    )


def blocked_words_in(text: str, account: str) -> list[str]:
    return sorted(w for w in learned_words(account) if w in text)
