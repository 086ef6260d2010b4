"""The HTTP API's OpenAPI 3 document, served at ``v1/openapi.json``
(``tests/httpapi/test_openapi.py`` checks it against the views)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from ..models import ApiKey, Message
from ..version import __version__
from .errors import CODES
from .views import MAX_PAGE, PAGE

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    described = {
        400: "The body is not a JSON object.",
        401: "No valid API key.",
        403: "The key lacks the scope, the kind, the account or the address.",
        404: "No such message (or not one the key may read).",
        409: "The balance or the monthly cap refuses it, or the same Idempotency-Key is "
        "still being done.",
        413: "The body is too large.",
        422: "A field is missing or wrong, or the Idempotency-Key was used with another body.",
        429: "The key's rate limit, or a verification code's throttle: see Retry-After.",
        500: "An unexpected error (internal, not_configured, sms_error); see the server's log.",
        502: "The gateway refused it.",
        503: "The gateway could not be reached.",
    }
    return {str(s): {"description": described[s], **_json(ERROR)} for s in statuses}


IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "The same key with the same body within 24 hours gets the first answer "
    "again, and nothing more is sent; with another body, 422.",
    "schema": {"type": "string", "maxLength": 255},
}


def document(base: str = "") -> dict[str, Any]:
    """The document, its paths under ``base`` (the URLconf's prefix)."""
    message = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "mobile": {"type": "string"},
            "content": {"type": "string"},
            "kind": {"type": "string", "enum": list(Message.Kind.values)},
            "account": {"type": "string"},
            "status": {"type": "string", "enum": list(Message.Status.values)},
            "msgid": {"type": "string"},
            "parts": {"type": "integer"},
            "template": {"type": ["integer", "null"]},
            "campaign": {"type": ["integer", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "metadata": {"type": "object"},
            "error_code": {"type": "string"},
            "error": {"type": "string"},
            "report_status": {"type": "string"},
            "carrier": {"type": "string"},
            "province": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "send_at": {"type": ["string", "null"], "format": "date-time"},
            "submitted_at": {"type": ["string", "null"], "format": "date-time"},
            "reported_at": {"type": ["string", "null"], "format": "date-time"},
            "latency_seconds": {"type": ["number", "null"]},
        },
    }
    send = {
        "type": "object",
        "properties": {
            "mobile": {"type": "string"},
            "mobiles": {"type": "array", "items": {"type": "string"}, "maxItems": 10000},
            "content": {"type": "string"},
            "template": {"type": "string", "description": "The vendor's template id."},
            "params": {"oneOf": [{"type": "object"}, {"type": "array"}]},
            "extcode": {"type": ["string", "integer"]},
            "kind": {"type": "string", "enum": list(Message.Kind.values)},
            "account": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "metadata": {"type": "object"},
            "send_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
            "background": {"type": "boolean"},
        },
    }
    code = {
        "type": "object",
        "required": ["mobile"],
        "properties": {
            "mobile": {"type": "string"},
            "purpose": {"type": "string", "default": "login"},
            "ip": {"type": "string", "description": "The end user's address."},
        },
    }
    check = {
        "type": "object",
        "required": ["mobile", "code"],
        "properties": {
            "mobile": {"type": "string"},
            "code": {"type": "string"},
            "purpose": {"type": "string", "default": "login"},
        },
    }
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "description": "Stable: "
                        + ", ".join(sorted({c for _cls, _s, c in CODES} | API_CODES)),
                    },
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            }
        },
    }

    def scoped(scope: str) -> list[dict[str, list[str]]]:
        return [{"key": [scope]}]

    return {
        "openapi": "3.1.0",
        "info": {"title": "django-xunchen SMS API", "version": __version__},
        "servers": [{"url": base}],
        "components": {
            "securitySchemes": {
                "key": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key made in the admin: xc_<prefix>_<secret>. "
                    "Scopes: " + ", ".join(ApiKey.Scope.values),
                }
            },
            "schemas": {"Message": message, "Error": error},
        },
        "paths": {
            "/v1/messages": {
                "post": {
                    "operationId": "send",
                    "summary": "Send one SMS to each number",
                    "security": scoped("send"),
                    "parameters": [IDEMPOTENCY],
                    "requestBody": {"required": True, **_json(send)},
                    "responses": {
                        "201": {
                            "description": "The messages written, one per number.",
                            **_json(
                                {
                                    "type": "object",
                                    "properties": {
                                        "messages": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Message"},
                                        }
                                    },
                                }
                            ),
                        },
                        # 502, 503: the balance check of a large send (BALANCE_CHECK_ABOVE)
                        **_errors(400, 401, 403, 409, 413, 422, 429, 500, 502, 503),
                    },
                },
                "get": {
                    "operationId": "list",
                    "summary": "Messages, newest first, a page at a time",
                    "security": scoped("read"),
                    "parameters": [
                        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                        for n in (
                            "status",
                            "kind",
                            "account",
                            "mobile",
                            "msgid",
                            "tag",
                            "created_after",
                            "created_before",
                            "cursor",
                        )
                    ]
                    + [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_PAGE,
                                "default": PAGE,
                            },
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "A page; next is the cursor of the next one.",
                            **_json(
                                {
                                    "type": "object",
                                    "properties": {
                                        "messages": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Message"},
                                        },
                                        "next": {"type": ["string", "null"]},
                                    },
                                }
                            ),
                        },
                        **_errors(401, 403, 422, 429, 500),
                    },
                },
            },
            "/v1/messages/{id}": {
                "get": {
                    "operationId": "read",
                    "summary": "One message",
                    "security": scoped("read"),
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The message.",
                            **_json({"$ref": "#/components/schemas/Message"}),
                        },
                        **_errors(401, 403, 404, 429, 500),
                    },
                }
            },
            "/v1/codes": {
                "post": {
                    "operationId": "requestCode",
                    "summary": "Send a verification code",
                    "security": scoped("codes"),
                    "parameters": [IDEMPOTENCY],
                    "requestBody": {"required": True, **_json(code)},
                    "responses": {
                        "201": {
                            "description": "Sent (or its outcome unknown: it may have gone).",
                            **_json(
                                {
                                    "type": "object",
                                    "properties": {
                                        "status": {"type": "string"},
                                        "message": {"type": ["integer", "null"]},
                                    },
                                }
                            ),
                        },
                        **_errors(400, 401, 403, 409, 413, 422, 429, 500, 502, 503),
                    },
                }
            },
            "/v1/codes/check": {
                "post": {
                    "operationId": "checkCode",
                    "summary": "Check a verification code (a right one is used up)",
                    "security": scoped("codes"),
                    "parameters": [IDEMPOTENCY],
                    "requestBody": {"required": True, **_json(check)},
                    "responses": {
                        "200": {
                            "description": "Whether it was right.",
                            **_json(
                                {
                                    "type": "object",
                                    "properties": {
                                        "verified": {"type": "boolean"},
                                        "status": {"type": "string"},
                                        "attempts_left": {"type": "integer"},
                                    },
                                }
                            ),
                        },
                        **_errors(400, 401, 403, 409, 413, 422, 429, 500),
                    },
                }
            },
            "/v1/balance": {
                "get": {
                    "operationId": "balance",
                    "summary": "The balance of each account the key may use",
                    "security": scoped("read"),
                    "responses": {
                        "200": {"description": "Per account: amount and messages, or error."},
                        **_errors(401, 403, 429, 500),
                    },
                }
            },
            "/v1/health": {
                "get": {
                    "operationId": "health",
                    "summary": "The health report",
                    "security": scoped("health"),
                    "responses": {
                        "200": {"description": "The checks and the worst level."},
                        **_errors(401, 403, 429, 500),
                    },
                }
            },
            "/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
    }


#: The codes the API itself gives, besides those of the app's exceptions.
API_CODES = {
    "unauthenticated",
    "ip_not_allowed",
    "scope_missing",
    "rate_limited",
    "method_not_allowed",
    "invalid_json",
    "body_too_large",
    "invalid_body",
    "invalid_query",
    "kind_not_allowed",
    "account_not_allowed",
    "not_found",
    "throttled",
    "code_not_sent",
    "idempotency_key_reused",
    "invalid_idempotency_key",
    "in_progress",
    "internal",
}


@require_GET
def document_view(request: HttpRequest) -> JsonResponse:
    """The document, with the server's own prefix."""
    base = reverse("xunchen_api:openapi").rsplit("/v1/", 1)[0]
    return JsonResponse(document(request.build_absolute_uri(base)))
