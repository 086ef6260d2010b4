"""The health report over HTTP for monitoring systems (``path("sms/",
include("django_xunchen.urls"))`` serves it at ``sms/health/``): JSON, or the
Prometheus text format with ``?format=prometheus``.

Never public: a logged-in staff user who may view the dashboard, a request bearing
``Authorization: Bearer <XUNCHEN["HEALTH"]["TOKEN"]>`` (compared in constant time;
without a token set, staff only), or one bearing an API key with the ``health`` scope
(:mod:`django_xunchen.httpapi.keys`). Anything else is a 401 that says nothing else. The
answer's status is 200 whatever the checks say (a scraper reads the figures; a probe
that wants a failing status reads ``?strict=1``: 503 when anything is critical).
"""

from __future__ import annotations

import hmac

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ..conf import health_settings
from ..httpapi import keys
from ..httpapi.errors import ApiError
from ..models import ApiKey
from ..verification.codes import client_ip
from .monitoring import Level, as_json, as_prometheus, run_checks, worst

PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


def _allowed(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_staff and user.has_perm("django_xunchen.view_dashboard"):
        return True
    token = str(health_settings()["TOKEN"])
    given = request.headers.get("Authorization", "")
    if given.startswith("Bearer xc_"):
        try:
            key = keys.authenticate(given, client_ip(request))
        except ApiError:
            return False
        return ApiKey.Scope.HEALTH in key.scopes
    if not token or not given.startswith("Bearer "):
        return False
    return hmac.compare_digest(given[len("Bearer ") :].encode(), token.encode())


@never_cache
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        answer = JsonResponse({"error": "unauthorized"}, status=401)
        answer["WWW-Authenticate"] = 'Bearer realm="django-xunchen health"'
        return answer
    checks = run_checks()
    status = 503 if request.GET.get("strict") and worst(checks) >= Level.CRITICAL else 200
    if request.GET.get("format") == "prometheus":
        return HttpResponse(as_prometheus(checks), content_type=PROMETHEUS, status=status)
    return HttpResponse(as_json(checks), content_type="application/json", status=status)
