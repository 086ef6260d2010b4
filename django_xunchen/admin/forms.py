"""The admin's send form: validates exactly as send_sms() does, naming every bad number."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminSplitDateTime, AutocompleteSelect
from django.utils.translation import gettext_lazy as _

from ..backends import get_backend
from ..exceptions import (
    InvalidContentError,
    InvalidExtcodeError,
    InvalidMobileError,
    InvalidSendTimeError,
    InvalidTemplateParamsError,
    XunchenValidationError,
)
from ..models import Message, Template
from ..sending import prepare_messages

FIELD_OF_ERROR = {
    InvalidMobileError: "mobiles",
    InvalidContentError: "content",
    InvalidTemplateParamsError: "params",
    InvalidExtcodeError: "extcode",
    InvalidSendTimeError: "send_at",
}


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
    template = forms.ModelChoiceField(
        label=_("Template"),
        queryset=Template.objects.filter(is_active=True),
        required=False,
        help_text=_("Leave empty to send the content below as a normal message."),
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
        help_text=_("At most 300 characters. Not used with a template."),
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
        field = self.fields["template"]
        field.widget = AutocompleteSelect(Message._meta.get_field("template"), admin_site)
        field.widget.choices = field.choices

    def clean_params(self) -> dict[str, str]:
        return parse_params(self.cleaned_data.get("params") or "")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        template = data.get("template")
        content = (data.get("content") or "").strip() or None
        if template and content:
            self.add_error("content", _("Give either content or a template, not both."))
            return data
        if not template and not content:
            self.add_error("content", _("Write the content, or choose a template."))
            return data
        try:
            prepare_messages(
                data["mobiles"],
                content,
                template=template,
                params=data.get("params") or None,
                extcode=data.get("extcode") or None,
                send_at=data.get("send_at"),
                backend=get_backend(),
            )
        except XunchenValidationError as exc:
            field = next((f for cls, f in FIELD_OF_ERROR.items() if isinstance(exc, cls)), None)
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
        return data
