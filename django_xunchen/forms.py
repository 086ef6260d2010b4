"""Form fields and a form for "mobile number + verification code", and a consent box,
for host projects."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from .client.secret import Secret
from .client.validation import normalize_mobile
from .conf import verification_settings
from .verification.codes import CheckStatus, CodeCheck, check_code


class MobileNumberField(forms.CharField):
    """A mainland China mobile number; ``+86``, spaces and dashes are accepted and
    removed, full-width digits are read. Cleans to the 11 digits."""

    default_error_messages = {"invalid": _("Enter a mainland China mobile number.")}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("label", _("Mobile number"))
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "tel")
        self.widget.attrs.setdefault("autocomplete", "tel")

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if value in self.empty_values:
            return value
        number = normalize_mobile(value)
        if not number:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class VerificationCodeField(forms.CharField):
    """The digits of a verification code (``CODE_LENGTH`` of them). Cleans to a
    :class:`~django_xunchen.client.secret.Secret`: a ``str`` whose repr is masked, so
    that an error report or the debug page that shows ``cleaned_data`` shows no code."""

    default_error_messages = {"invalid": _("Enter the %(length)d digits of the code.")}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Verification code"))
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "numeric")
        self.widget.attrs.setdefault("autocomplete", "one-time-code")

    @sensitive_variables("value")
    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if value in self.empty_values:
            return value
        length = int(verification_settings()["CODE_LENGTH"])
        value = Secret(value.strip())
        if not (value.isascii() and value.isdigit() and len(value) == length):
            raise forms.ValidationError(
                self.error_messages["invalid"], code="invalid", params={"length": length}
            )
        return value


CHECK_ERRORS = {
    CheckStatus.WRONG: _("The code is wrong."),
    CheckStatus.EXPIRED: _("The code has expired. Ask for a new one."),
    CheckStatus.TOO_MANY_ATTEMPTS: _("Too many wrong attempts. Ask for a new code."),
    CheckStatus.NO_CODE: _("Ask for a code first."),
}


class PhoneCodeForm(forms.Form):
    """Mobile number and code; valid only when :func:`check_code` verifies them (which
    uses the code up). ``purpose`` is the one the code was requested for.
    ``self.check`` holds the :class:`~django_xunchen.verification.CodeCheck`."""

    mobile = MobileNumberField()
    code = VerificationCodeField()

    def __init__(self, *args: Any, purpose: str = "login", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purpose = purpose
        self.check: CodeCheck | None = None

    @sensitive_variables("data")
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        self.check = check_code(data["mobile"], data["code"], self.purpose)
        if not self.check.verified:
            raise forms.ValidationError(CHECK_ERRORS[self.check.status], code=self.check.status)
        return data


class ConsentField(forms.BooleanField):
    """A box the person ticks to agree to ``wording`` (the label): required, so that a
    form that carries it is valid only with the box ticked. ``field.wording`` is the
    text to store with the grant::

        consent = ConsentField(wording="我同意接收本店的优惠短信，可随时回复退订。")
        ...
        grant_consent(form.cleaned_data["mobile"], source="form",
                      wording=form.fields["consent"].wording, request=request)
    """

    default_error_messages = {"required": _("Tick the box to agree.")}

    def __init__(self, *, wording: Any, **kwargs: Any) -> None:
        self.wording = wording
        kwargs.setdefault("label", wording)
        kwargs.setdefault("required", True)
        super().__init__(**kwargs)
