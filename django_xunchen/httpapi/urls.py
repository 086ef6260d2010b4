"""The HTTP API's URLconf: ``path("sms/api/", include("django_xunchen.httpapi.urls"))``."""

from django.urls import path

from . import openapi, views

app_name = "xunchen_api"

urlpatterns = [
    path("v1/messages", views.messages, name="messages"),
    path("v1/messages/<int:pk>", views.detail, name="message"),
    path("v1/codes", views.codes, name="codes"),
    path("v1/codes/check", views.codes_check, name="codes-check"),
    path("v1/balance", views.balance, name="balance"),
    path("v1/health", views.health, name="health"),
    path("v1/openapi.json", openapi.document_view, name="openapi"),
]
