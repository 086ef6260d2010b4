"""The admin's send form: validates exactly as send_sms() does, naming every bad number."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminSplitDateTime
from django.utils.translation import gettext_lazy as _

from ..backends import get_backend
from ..client.validation import normalize_mobile, split_mobiles
from ..conf import DEFAULT_KIND, KINDS, account_names, route, xunchen_settings
from ..exceptions import (
    InvalidAccountChoiceError,
    InvalidContentError,
    InvalidExtcodeError,
    InvalidKindError,
    InvalidMobileError,
    InvalidSendTimeError,
    InvalidTemplateParamsError,
    LearnedBlockedWordsError,
    MissingOptOutFooterError,
    XunchenValidationError,
)
from ..models import BlockedWord, Message, Template
from ..sending.compose import prepare_messages, resolve_account

FIELD_OF_ERROR = {
    InvalidMobileError: "mobiles",
    InvalidContentError: "content",
    InvalidTemplateParamsError: "params",
    InvalidExtcodeError: "extcode",
    InvalidSendTimeError: "send_at",
    InvalidKindError: "kind",
    InvalidAccountChoiceError: "account",
    LearnedBlockedWordsError: "content",
    MissingOptOutFooterError: "template",
}


class TemplateSelect(forms.Select):
    """Each option says which account its template belongs to (``data-account``), so
    that the page can offer only the chosen account's templates."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-account"] = instance.account
            option["attrs"]["data-body"] = instance.body
        return option


def parse_params(text: str) -> dict[str, str]:
    """``1=张三`` per line (or ``@1@=张三``) → ``{"1": "张三"}``."""
    params: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise forms.ValidationError(
                _("Line %(line)d: write each parameter as N=value, e.g. 1=张三."),
                params={"line": number},
            )
        params[key.strip().strip("@")] = value.strip()
    return params


class SendSMSForm(forms.Form):
    mobiles = forms.CharField(
        label=_("Mobile numbers"),
        widget=forms.Textarea(attrs={"rows": 5, "cols": 40}),
        help_text=_("One per line, or separated by commas. +86 and spaces are fine."),
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=Message.Kind.choices,
        initial=DEFAULT_KIND,
        required=False,
        help_text=_("It decides the account the message goes out on, by the site's routes."),
    )
    account = forms.ChoiceField(
        label=_("Account"),
        required=False,
        help_text=_("Leave empty to use the account the kind is routed to."),
    )
    template = forms.ModelChoiceField(
        label=_("Template"),
        queryset=Template.objects.filter(is_active=True).order_by("account", "name"),
        required=False,
        widget=TemplateSelect,
        help_text=_(
            "The templates of the chosen account. Leave empty to send the content below "
            "as a normal message."
        ),
    )
    params = forms.CharField(
        label=_("Template parameters"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text=_("One per line: 1=张三 fills @1@."),
    )
    content = forms.CharField(
        label=_("Content"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_(
            "At most 300 characters. Marketing gets the opt-out footer (回T退订) if it has "
            "none. Leave empty when you choose a template."
        ),
    )
    extcode = forms.CharField(
        label=_("Extcode"),
        required=False,
        max_length=4,
        help_text=_("Optional: 1 to 4 digits appended to the sender number."),
    )
    send_at = forms.SplitDateTimeField(
        label=_("Scheduled for"),
        required=False,
        widget=AdminSplitDateTime,
        help_text=_("Optional: the gateway holds the message until then."),
    )

    def __init__(self, *args, admin_site=admin.site, **kwargs):
        super().__init__(*args, **kwargs)
        names = account_names()
        account = self.fields["account"]
        account.choices = [("", _("By kind (routes)")), *((n, n) for n in names)]
        if len(names) == 1:
            account.widget = forms.HiddenInput()
        routes = {kind: route(kind) for kind in KINDS}
        self.fields["template"].widget.attrs.update(
            {"data-routes": json.dumps(routes), "class": "xunchen-template-select"}
        )

    @property
    def media(self):
        return super().media + forms.Media(js=["django_xunchen/send-form.js"])

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or DEFAULT_KIND

    def clean_params(self) -> dict[str, str]:
        return parse_params(self.cleaned_data.get("params") or "")

    def clean(self):
        """Every fault at once: the numbers, the content or template, the extcode and the
        send time are checked each on their own, so staff fix them in one go."""
        data = super().clean()
        self.duplicates = self._duplicates(data.get("mobiles") or "")
        template = data.get("template")
        content = (data.get("content") or "").strip() or None
        checks = {
            "mobiles": data.get("mobiles") if "mobiles" in data else None,
            "extcode": data.get("extcode") or None,
            "send_at": data.get("send_at"),
        }
        neutral = {"mobiles": "13800138000", "extcode": None, "send_at": None}
        for field in checks:
            if field in self.errors:
                checks[field] = neutral[field]
        if template and content:
            self.add_error("content", _("Give either content or a template, not both."))
            content = None
        elif not template and not content:
            self.add_error("content", _("Write the content, or choose a template."))
        if "kind" in self.errors or "account" in self.errors:
            return data
        try:
            name = resolve_account(data["kind"], data.get("account") or None)
        except XunchenValidationError as exc:
            self._add(exc)
            return data
        if template is not None and template.account != name:
            self.add_error(
                "template",
                _("This template belongs to account %(theirs)s; the message goes out on %(ours)s.")
                % {"theirs": template.account, "ours": name},
            )
            template = None
        if not template and not content:
            content = "-"  # the other fields are still checked; the content error is given
            checked_content = False
        else:
            checked_content = True
        for _attempt in range(len(checks) + 1):
            try:
                prepare_messages(
                    checks["mobiles"] or neutral["mobiles"],
                    content,
                    template=template,
                    params=data.get("params") or None,
                    extcode=checks["extcode"],
                    send_at=checks["send_at"],
                    kind=data["kind"],
                    backend=get_backend(account=name),
                )
            except XunchenValidationError as exc:
                field = self._add(exc, content_checked=checked_content)
                if field in neutral and checks[field] != neutral[field]:
                    checks[field] = neutral[field]
                    continue
            break
        return data

    def _add(self, exc: XunchenValidationError, content_checked: bool = True) -> str | None:
        """Put ``exc`` under its field; returns the field."""
        field = next((f for cls, f in FIELD_OF_ERROR.items() if isinstance(exc, cls)), None)
        if field in ("content", "params", "template") and not content_checked:
            return field
        if isinstance(exc, InvalidMobileError) and exc.invalid:
            self.add_error(
                "mobiles",
                [
                    forms.ValidationError(
                        _("Not a mainland China mobile number: %(number)s"),
                        params={"number": bad},
                    )
                    for bad in exc.invalid
                ],
            )
        else:
            self.add_error(field, str(exc))
        return field

    @staticmethod
    def _duplicates(text: str) -> list[str]:
        """The numbers given more than once (after normalising: +86, spaces)."""
        seen: set[str] = set()
        twice: list[str] = []
        for value in split_mobiles(text):
            number = normalize_mobile(value)
            if number is None:
                continue
            if number in seen and number not in twice:
                twice.append(number)
            seen.add(number)
        return twice


class TemplateForm(forms.ModelForm):
    """The account is chosen among the configured ones."""

    account = forms.ChoiceField(
        label=_("account"),
        help_text=_("Vendor template ids belong to one gateway account."),
    )

    class Meta:
        model = Template
        fields = ["account", "name", "template_id", "body", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = account_names()
        current = self.instance.account if self.instance.pk else None
        if current and current not in names:
            names = [*names, current]
        self.fields["account"].choices = [(n, n) for n in names]


def preview_settings(balances: dict[str, object] | None) -> str:
    """What the send form's live preview needs per account, as JSON: the parts rule, the
    signature, the price, the footer, the learned words and, for staff who may see it, the
    balance. The server counts with the same numbers (:mod:`django_xunchen.policy`)."""
    words: dict[str, list[str]] = {}
    for account, word in BlockedWord.objects.filter(is_active=True).values_list("account", "word"):
        words.setdefault(account, []).append(word)
    accounts = {}
    for name in account_names():
        conf = xunchen_settings(name)
        single, each = (int(n) for n in conf["PART_LENGTHS"])
        balance = (balances or {}).get(name)
        accounts[name] = {
            "single": single,
            "each": each,
            "signature": conf["SIGNATURE"] or "",
            "price": str(conf["PRICE_PER_PART"]),
            "footer": conf["MARKETING_FOOTER"] or "",
            "words": words.get(name, []),
            "balance": str(balance.amount) if hasattr(balance, "amount") else None,
        }
    return json.dumps({"accounts": accounts, "routes": {k: route(k) for k in KINDS}})
