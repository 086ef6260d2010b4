#!/bin/sh
# Send one SMS through the django-xunchen HTTP API.
#
#   XUNCHEN_API_URL  where the API's URLconf is included, e.g. https://sms.example.com/sms/api
#   XUNCHEN_API_KEY  a key with the "send" scope (xc_…)
#
# The Idempotency-Key makes the request safe to repeat: the same key with the same body
# within 24 hours gets the first answer again, and no second SMS goes out.
set -eu

curl --silent --show-error --fail-with-body \
  --request POST "$XUNCHEN_API_URL/v1/messages" \
  --header "Authorization: Bearer $XUNCHEN_API_KEY" \
  --header "Content-Type: application/json" \
  --header "Idempotency-Key: order-1042-shipped" \
  --data-binary @- <<'JSON'
{
  "mobile": "13800138000",
  "content": "您的订单 1042 已发货",
  "kind": "notification",
  "tags": ["orders"],
  "metadata": {"order": 1042}
}
JSON
