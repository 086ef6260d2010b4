"""The double opt-in view: a person asks for marketing SMS with their number and a ticked
box, gets a verification code by SMS, and enters it; the grant is written with the
wording they saw, their address and user agent, source ``opt_in``.

``path("sms/", include("django_xunchen.urls"))`` serves it at ``sms/consent/``; a host
subclasses it (``template_name``, ``wording``, ``scope``) for its own page. The code's
purpose is ``consent``, which the JSON code views do not accept (it is not in
``PURPOSES``): only this view's first step, after the box is ticked, sends one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from ..conf import xunchen_settings
from ..exceptions import XunchenValidationError
from ..forms import ConsentField, MobileNumberField, PhoneCodeForm
from ..models import Consent, ThrottleEvent, VerificationCode
from ..models.consent import MARKETING
from ..verification.codes import RequestStatus, client_ip, request_code
from ..views import MAX_BODY
from .api import grant_consent

PURPOSE = "consent"
DEFAULT_WORDING = _(
    "I agree to receive marketing SMS from this site. I can reply 退订 to any of them to stop."
)


def consent_wording() -> Any:
    """``XUNCHEN["CONSENT_WORDING"]``, or the default sentence in the active language."""
    return xunchen_settings()["CONSENT_WORDING"] or DEFAULT_WORDING


class AskForm(forms.Form):
    mobile = MobileNumberField()

    def __init__(self, *args: Any, wording: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["consent"] = ConsentField(wording=wording)


class ConfirmForm(PhoneCodeForm):
    mobile = MobileNumberField(widget=forms.HiddenInput)


@method_decorator([csrf_protect, sensitive_post_parameters("code")], name="dispatch")
class ConsentOptInView(View):
    """GET: the number and the box. POST ``step=ask``: send the code. POST
    ``step=confirm``: check it and write the grant."""

    template_name = "django_xunchen/consent/opt_in.html"
    #: The text the person agrees to; ``None``: :func:`consent_wording`.
    wording: Any = None
    scope = MARKETING
    http_method_names = ["get", "post"]

    def get_wording(self) -> Any:
        return self.wording or consent_wording()

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request, "ask", AskForm(wording=self.get_wording()))

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            too_large = int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY
        except ValueError:
            return HttpResponse(status=400)
        if too_large:
            return HttpResponse(status=413)
        if request.POST.get("step") == "confirm":
            return self.confirm(request)
        return self.ask(request)

    def ask(self, request: HttpRequest) -> HttpResponse:
        form = AskForm(request.POST, wording=self.get_wording())
        if not form.is_valid():
            return self.render(request, "ask", form, status=400)
        mobile = form.cleaned_data["mobile"]
        try:
            sent = request_code(mobile, PURPOSE, ip=client_ip(request))
        except XunchenValidationError as exc:
            form.add_error("mobile", str(exc))
            return self.render(request, "ask", form, status=400)
        confirm = ConfirmForm(initial={"mobile": mobile}, purpose=PURPOSE)
        if sent.reason == ThrottleEvent.Reason.COOLDOWN and _live_code(mobile):
            # A code went out moments ago (a double click, a reload): enter that one.
            notice = gettext("A code was sent less than a minute ago: enter it.")
            return self.render(request, "confirm", confirm, notice=notice)
        if sent.status == RequestStatus.THROTTLED:
            form.add_error(
                None,
                gettext("Too many codes asked for. Try again in %(seconds)d seconds.")
                % {"seconds": sent.retry_after},
            )
            return self.render(request, "ask", form, status=429)
        if sent.status != RequestStatus.SENT:
            form.add_error(None, gettext("The code could not be sent. Try again later."))
            return self.render(request, "ask", form, status=503)
        return self.render(request, "confirm", confirm)

    def confirm(self, request: HttpRequest) -> HttpResponse:
        form = ConfirmForm(request.POST, purpose=PURPOSE)
        if not form.is_valid():
            return self.render(request, "confirm", form, status=400)
        entry = grant_consent(
            form.cleaned_data["mobile"],
            scope=self.scope,
            source=Consent.Source.OPT_IN,
            wording=self.get_wording(),
            request=request,
        )
        return self.render(request, "done", None, entry=entry)

    def render(
        self,
        request: HttpRequest,
        step: str,
        form: forms.Form | None,
        status: int = 200,
        **extra: Any,
    ) -> HttpResponse:
        context = {"step": step, "form": form, "wording": self.get_wording(), **extra}
        return TemplateResponse(request, self.template_name, context, status=status)


def _live_code(mobile: str) -> bool:
    """Whether a consent code (not a login code: the cooldown counts every purpose) is
    still waiting to be entered."""
    return VerificationCode.objects.filter(
        mobile=mobile,
        purpose=PURPOSE,
        state=VerificationCode.State.ACTIVE,
        expires_at__gt=timezone.now(),
    ).exists()
