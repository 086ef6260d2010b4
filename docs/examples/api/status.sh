#!/bin/sh
# Read one message back by its id (a key with the "read" scope), then list the
# delivered messages tagged "orders", newest first, 20 to a page.
#
#   sh status.sh 4711
set -eu

curl --silent --show-error --fail-with-body \
  --header "Authorization: Bearer $XUNCHEN_API_KEY" \
  "$XUNCHEN_API_URL/v1/messages/$1"
echo

curl --silent --show-error --fail-with-body --get \
  --header "Authorization: Bearer $XUNCHEN_API_KEY" \
  --data-urlencode "tag=orders" \
  --data-urlencode "status=delivered" \
  --data-urlencode "limit=20" \
  "$XUNCHEN_API_URL/v1/messages"
echo
