"""Phone sign-up and login with a verification code: what a host writes with
django-xunchen (docs/verification.rst walks through it)."""

import json
import logging

from django.apps import apps
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from django_xunchen.forms import PhoneCodeForm
from django_xunchen.models import WebhookEndpoint
from django_xunchen.verification import seconds_until_next_code
from django_xunchen.webhooks import signing

from .models import PhoneProfile

logger = logging.getLogger("sms_demo")


@sensitive_post_parameters("code")
def phone_login(request):
    """GET: the form. POST: the number and the code; a verified number signs in, and a
    number seen for the first time becomes a new user (sign-up and login in one)."""
    form = PhoneCodeForm(request.POST or None, purpose="login")
    if request.method == "POST" and form.is_valid():
        user, _ = get_user_model().objects.get_or_create(username=form.cleaned_data["mobile"])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("me")
    # After a wrong code the page comes back: "Get code" stays disabled while the
    # number's cooldown runs, as it was before the reload.
    mobile = form.cleaned_data.get("mobile") if form.is_bound else None
    wait = seconds_until_next_code(mobile) if mobile else 0
    context = {"form": form, "retry_after": wait, "allauth": apps.is_installed("allauth")}
    return render(request, "sms_demo/login.html", context)


@login_required(login_url="phone_login")
def me(request):
    profile = PhoneProfile.objects.filter(user=request.user).first()
    context = {"phone": profile.phone if profile else "", "allauth": apps.is_installed("allauth")}
    return render(request, "sms_demo/me.html", context)


@csrf_exempt
@require_POST
def webhook_receiver(request):
    """The demo's webhook receiver: checks the signature, logs the event, answers 204.

    A real receiver is another service: it keeps the secret the admin showed once in its
    own configuration (docs/examples/webhooks/receiver.py). The demo, being the same
    project, reads it from the endpoint that points here."""
    url = request.build_absolute_uri()
    secrets = WebhookEndpoint.objects.filter(url=url).values_list("secret", flat=True)
    header = request.headers.get(signing.SIGNATURE_HEADER, "")
    for secret in secrets:
        try:
            signing.verify(secret, request.body, header)
        except signing.SignatureError:
            continue
        event = json.loads(request.body)
        logger.info(
            "webhook received: %s %s (object %s)",
            event["type"],
            event["id"],
            event["data"].get("id"),
        )
        return HttpResponse(status=204)
    return HttpResponse("bad signature", status=400)
