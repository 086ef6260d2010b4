"""``path("sms/", include("django_xunchen.urls"))``: the verification-code JSON views,
the double opt-in page for marketing consent, and the health report for monitoring
systems."""

from django.urls import path

from .consent.views import ConsentOptInView
from .operations.endpoint import health
from .views import CheckCodeView, RequestCodeView

app_name = "django_xunchen"
urlpatterns = [
    path("code/request/", RequestCodeView.as_view(), name="request_code"),
    path("code/check/", CheckCodeView.as_view(), name="check_code"),
    path("consent/", ConsentOptInView.as_view(), name="consent"),
    path("health/", health, name="health"),
]
