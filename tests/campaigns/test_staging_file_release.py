"""A staging that fails lets go of the file before its error reaches the caller: the
reader's hold on it (the CSV reader's text wrapper) ends while the file is still open.
The caller may keep the error (a log, an error page) and close the file at once, as a
request's end closes an upload; nothing complains later, when the error is dropped."""

import gc
import io
import sys

import pytest
from django.db import OperationalError

from django_xunchen import campaigns
from django_xunchen.campaigns import staging
from django_xunchen.campaigns.text import CampaignError
from django_xunchen.models import BlockedWord

from .test_campaigns import make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def complaints(monkeypatch):
    """What Python reports as ignored: an error in a finaliser, such as a reader that
    lets go of a file already closed."""
    found = []
    monkeypatch.setattr(
        sys, "unraisablehook", lambda u: found.append(f"{u.exc_type.__name__}: {u.exc_value}")
    )
    return found


def fail_then_close(stage, file, error):
    """``stage`` raises ``error``; the file is closed while the error is kept, then the
    error is dropped."""
    with pytest.raises(error) as failed:
        stage(file)
    file.close()
    del failed
    gc.collect()


def csv(lines):
    return io.BytesIO("\r\n".join(lines).encode())


def no_number_in_the_first_rows():
    return csv(["姓名,城市"] + [f"张{i},北京" for i in range(30)] + ["13800138000,北京"])


def longer_than_the_first_rows():
    """More rows than the columns are found from: the reader is still at work after."""
    return csv(["手机号码,姓名"] + [f"138{i:08d},张{i}" for i in range(30)])


def test_a_file_refused_for_its_first_rows_is_let_go_of(complaints):
    def stage(file):
        campaigns.stage(make(), file, "a.csv")

    fail_then_close(stage, no_number_in_the_first_rows(), CampaignError)
    assert complaints == []


def test_a_file_refused_for_its_text_is_let_go_of(complaints):
    BlockedWord.objects.create(account="default", word="五折")

    def stage(file):
        campaigns.stage(make(content="会员日全场五折"), file, "a.csv")

    fail_then_close(stage, longer_than_the_first_rows(), CampaignError)
    assert complaints == []


def test_a_file_whose_staging_fails_half_way_is_let_go_of(complaints, monkeypatch):
    monkeypatch.setattr(staging, "STAGE_BATCH", 2)

    def locked(batch):
        raise OperationalError("database is locked")

    monkeypatch.setattr(staging, "store", locked)

    def stage(file):
        campaigns.stage(make(), file, "a.csv")

    fail_then_close(stage, longer_than_the_first_rows(), OperationalError)
    assert complaints == []


def test_a_file_staged_whole_is_let_go_of(complaints):
    """The same without a failure: the reader ends with the file."""
    file = longer_than_the_first_rows()
    campaign = campaigns.stage(make(), file, "a.csv")
    file.close()
    gc.collect()
    assert complaints == [] and campaign.valid == 30
