"""``path("sms/", include("django_xunchen.urls"))``: the verification-code JSON views,
and the health report for monitoring systems."""

from django.urls import path

from .operations.endpoint import health
from .views import CheckCodeView, RequestCodeView

app_name = "django_xunchen"
urlpatterns = [
    path("code/request/", RequestCodeView.as_view(), name="request_code"),
    path("code/check/", CheckCodeView.as_view(), name="check_code"),
    path("health/", health, name="health"),
]
