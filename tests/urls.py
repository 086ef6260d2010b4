from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sms/", include("django_xunchen.urls")),
    path("sms/api/", include("django_xunchen.httpapi.urls")),
]
