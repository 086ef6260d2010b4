"""Words learned from the gateway's refusals (policy/words.py): what is kept of them, and
the generation that tells a cache of them it is stale."""

import pytest

from django_xunchen.models import BlockedWord
from django_xunchen.policy import learn_blocked_words, learned_generation

pytestmark = pytest.mark.django_db


def test_blank_words_are_not_learned_and_the_others_once_each():
    learned = learn_blocked_words("default", ["", "  ", "退款", " 退款 ", "返利"], source=None)
    assert sorted(learned) == sorted(["退款", "返利"])
    assert sorted(BlockedWord.objects.values_list("word", flat=True)) == sorted(["退款", "返利"])


def test_a_word_longer_than_the_column_is_kept_to_its_first_100_characters():
    word = "券" * 150
    assert learn_blocked_words("default", [word], source=None) == [word]
    assert BlockedWord.objects.get().word == "券" * 100


def test_the_generation_grows_with_each_new_word_and_only_then():
    before = learned_generation()
    learn_blocked_words("default", ["退款"], source=None)
    first = learned_generation()
    learn_blocked_words("default", ["返利"], source=None)
    second = learned_generation()
    learn_blocked_words("default", ["退款", "返利"], source=None)
    assert before < first < second == learned_generation()
