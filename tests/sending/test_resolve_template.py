"""resolve_template() without an account: a template is looked up, and checked, on the
default account."""

import pytest

from django_xunchen.exceptions import InvalidAccountChoiceError
from django_xunchen.models import Template
from django_xunchen.sending import resolve_template

pytestmark = pytest.mark.django_db


def test_without_an_account_the_default_one_is_meant():
    mine = Template.objects.create(template_id="T-1", name="code", body="验证码@1@")
    theirs = Template.objects.create(
        template_id="T-2", name="other", body="验证码@1@", account="marketing"
    )
    assert resolve_template(mine) == mine
    assert resolve_template("T-1") == mine
    with pytest.raises(InvalidAccountChoiceError, match="not 'default'"):
        resolve_template(theirs)
