from django.apps import apps
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sms/", include("django_xunchen.urls")),
    path("sms/api/", include("django_xunchen.httpapi.urls")),
]

if apps.is_installed("two_factor"):
    # django-two-factor-auth's login, setup and profile pages (tests/integrations/
    # test_two_factor.py): /2fa/account/login/, /2fa/account/two_factor/setup/…
    # two_factor.urls.urlpatterns is (patterns, app_name), as include() takes it.
    from two_factor.urls import urlpatterns as two_factor_urls

    urlpatterns.append(path("2fa/", include(two_factor_urls)))
