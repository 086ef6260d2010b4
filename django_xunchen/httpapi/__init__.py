"""The HTTP API for sibling services: JSON views in an optional URLconf
(``path("sms/api/", include("django_xunchen.httpapi.urls"))``).

- :mod:`.keys`: API keys, shown once and stored hashed, with their scopes, kinds,
  accounts, IP allow-list and rate limit;
- :mod:`.idempotency`: ``Idempotency-Key``: one answer per key and body, even when two
  requests race;
- :mod:`.errors`: one JSON shape for every error, a stable code per exception class;
- :mod:`.serialize`: a message as the API shows it;
- :mod:`.views`: the endpoints; :mod:`.openapi`: their OpenAPI 3 document.

Every send goes through ``send_sms`` and the verification codes' functions, so through
the admission step like every other path.
"""
