from django.apps import apps
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from sms_demo import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sms/", include("django_xunchen.urls")),
    path("sms/api/", include("django_xunchen.httpapi.urls")),
    path("login/phone/", views.phone_login, name="phone_login"),
    path("me/", views.me, name="me"),
    path("demo/webhooks/", views.webhook_receiver, name="demo_webhooks"),
    path("", RedirectView.as_view(url="/admin/django_xunchen/message/", permanent=False)),
]

if apps.is_installed("allauth"):
    # django-allauth's sign-up and sign-in by phone (docs/integrations/allauth.rst).
    urlpatterns.insert(-1, path("accounts/", include("allauth.urls")))
