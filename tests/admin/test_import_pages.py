"""The suppression list's and the blocked words' import pages are for staff who may add
to them: others get a 403, never a server error."""

import pytest
from django.urls import reverse

from django_xunchen.models import BlockedWord, Suppression

from .conftest import _staff

PAGES = [
    ("admin:django_xunchen_suppression_import", "view_suppression", "add_suppression"),
    ("admin:django_xunchen_blockedword_import", "view_blockedword", "add_blockedword"),
]


@pytest.mark.parametrize("url_name, view, add", PAGES)
def test_staff_who_may_only_look_get_403_on_the_import_page(db, client, url_name, view, add):
    client.force_login(_staff("looker", view))
    client.raise_request_exception = False
    assert client.get(reverse(url_name)).status_code == 403
    response = client.post(reverse(url_name), {"words": "秒杀", "scope": "all"})
    assert response.status_code == 403
    assert not BlockedWord.objects.exists()
    assert not Suppression.objects.exists()


@pytest.mark.parametrize("url_name, view, add", PAGES)
def test_staff_who_may_add_see_the_import_page(db, client, url_name, view, add):
    client.force_login(_staff("adder", view, add))
    assert client.get(reverse(url_name)).status_code == 200
