"""suppress_many, the import's write: what suppress() does to each number, in one
transaction, in batches, with opted_out once per number after the commit; an iterable
that fails halfway leaves nothing."""

import pytest

from django_xunchen.exceptions import InvalidMobileError
from django_xunchen.models import Suppression
from django_xunchen.policy import suppression
from django_xunchen.policy.suppression import Suppressed, suppress_many

pytestmark = pytest.mark.django_db(transaction=True)
IMPORT = Suppression.Source.IMPORT


@pytest.fixture
def opted_out():
    from django_xunchen import signals

    got = []

    def out(sender, **kwargs):
        got.append((kwargs["mobile"], kwargs["suppression"].scope, kwargs["reply"]))

    signals.opted_out.connect(out)
    yield got
    signals.opted_out.disconnect(out)


def test_new_numbers_go_in_and_each_is_signalled_once(opted_out, monkeypatch):
    monkeypatch.setattr(suppression, "BULK_BATCH", 2)
    numbers = ["13800138000", "13800138001", "+86 138 0013 8002", "13800138000", "13800138001"]
    done = suppress_many(numbers, source=IMPORT)
    assert done == Suppressed(added=3, widened=0, already=0)
    assert Suppression.objects.filter(source=IMPORT, scope="marketing").count() == 3
    assert sorted(opted_out) == [
        ("13800138000", "marketing", None),
        ("13800138001", "marketing", None),
        ("13800138002", "marketing", None),
    ]


def test_the_scope_widens_and_never_narrows_as_with_suppress(opted_out):
    Suppression.objects.create(mobile="13800138000", source="reply", scope="marketing")
    Suppression.objects.create(mobile="13800138001", source="reply", scope="all")
    done = suppress_many(["13800138000", "13800138001"], source=IMPORT, scope="all")
    assert done == Suppressed(added=0, widened=1, already=1)
    assert dict(Suppression.objects.values_list("mobile", "scope")) == {
        "13800138000": "all",
        "13800138001": "all",
    }
    assert sorted(m for m, *_ in opted_out) == ["13800138000", "13800138001"]
    opted_out.clear()
    done = suppress_many(["13800138001"], source=IMPORT, scope="marketing")
    assert done == Suppressed(added=0, widened=0, already=1)
    assert Suppression.objects.get(mobile="13800138001").scope == "all"
    assert opted_out == [], "already suppressed for more: no signal, as suppress() sends none"


def test_an_iterable_that_fails_halfway_leaves_nothing(opted_out, monkeypatch):
    monkeypatch.setattr(suppression, "BULK_BATCH", 2)

    def numbers():
        yield from ["13800138000", "13800138001", "13800138002"]
        raise ValueError("row 4 is bad")

    with pytest.raises(ValueError):
        suppress_many(numbers(), source=IMPORT)
    assert not Suppression.objects.exists()
    assert opted_out == []


def test_a_value_that_is_not_a_number_is_refused_and_nothing_written():
    with pytest.raises(InvalidMobileError):
        suppress_many(["13800138000", "123"], source=IMPORT)
    assert not Suppression.objects.exists()


def test_nothing_given_does_nothing(opted_out):
    assert suppress_many([], source=IMPORT) == Suppressed()
    assert opted_out == []
