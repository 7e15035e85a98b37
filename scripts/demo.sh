#!/usr/bin/env bash
# `make demo`: three checkouts with curl against a running `make run` (or `docker compose up`),
# printing each step: one paid with an approving card that is shipped and ends `Delivered`, one with the
# declining test card 0002 that ends `Cancelled` (PaymentDeclined) with its stock given back, and one the
# customer cancels as soon as it is `Completed`, before it ships (CustomerCancelled: refunded, restocked).
# Then swn's e-mails about these orders (GET /notification/swn: one per order event, six in all) and,
# when it answers, what the mail sink received (`make run` starts it: http://127.0.0.1:8025/).
# It exits non-zero when an order does not end as expected, the stock is not 3 afterwards or the six
# e-mails are not listed within 60 s (make compose-test relies on it).
# GATEWAY, IDENTITY and MAIL_SINK override the URLs.
set -euo pipefail
GATEWAY=${GATEWAY:-http://localhost:8080}
IDENTITY=${IDENTITY:-http://localhost:9229}
CLIENT_ID=${CLIENT_ID:-swnshoplocalclient}
MAIL_SINK=${MAIL_SINK:-http://127.0.0.1:8025}
ORDERS=()  # "orderId event event ..." per checkout: the e-mails it should bring
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

sign_in() {
  curl -fsS -XPOST "$IDENTITY" -H 'X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth' \
    -H 'Content-Type: application/x-amz-json-1.1' \
    -d "{\"AuthFlow\":\"USER_PASSWORD_AUTH\",\"ClientId\":\"$CLIENT_ID\",\"AuthParameters\":{\"USERNAME\":\"$1\",\"PASSWORD\":\"$2\"}}" \
    | json 'd["AuthenticationResult"]["IdToken"]'
}

step "sign in as admin and as swn (identity, Cognito protocol)"
ADMIN=$(sign_in admin 'Admin-Passw0rd!')
SWN=$(sign_in swn 'Swn-Passw0rd!')
echo "admin token: ${ADMIN:0:24}…  swn token: ${SWN:0:24}…"

step "admin creates a product with 5 in stock: POST /product"
PRODUCT=$(curl -fsS -XPOST "$GATEWAY/product" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"name":"Demo Headphones","description":"Noise cancelling","imageFile":"headphones.png","price":129.99,"category":"Audio","stock":5}')
echo "$PRODUCT"
PRODUCT_ID=$(echo "$PRODUCT" | json 'd["id"]')

# checkout CARD LABEL: fills swn's basket with 2 headphones, checks out and finds the order the checkout
# made (GET /order/swn?checkoutId=); sets ORDER_ID.
checkout() {
  local card=$1 label=$2
  step "$label: swn fills the basket (2 × headphones; the price comes from the catalog): POST /basket"
  curl -fsS -XPOST "$GATEWAY/basket" -H "Authorization: Bearer $SWN" -H 'Content-Type: application/json' \
    -d "{\"userName\":\"swn\",\"items\":[{\"productId\":\"$PRODUCT_ID\",\"quantity\":2,\"color\":\"Black\",\"price\":0.01}]}"
  echo
  step "$label: swn checks out with card $card: POST /basket/checkout (Idempotency-Key)"
  local answer checkout_id
  answer=$(curl -fsS -XPOST "$GATEWAY/basket/checkout" -H "Authorization: Bearer $SWN" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: demo-$(date +%s%N)" \
    -d "{\"userName\":\"swn\",\"firstName\":\"Swn\",\"lastName\":\"Demo\",\"email\":\"swn@example.com\",\"address\":\"1 Demo Street\",\"paymentMethod\":\"card\",\"cardInfo\":\"$card\"}")
  echo "$answer"
  checkout_id=$(echo "$answer" | json 'd["checkoutId"]')
  ORDER_ID=""
  for _ in $(seq 1 300); do
    ORDER_ID=$(curl -fsS "$GATEWAY/order/swn?checkoutId=$checkout_id" -H "Authorization: Bearer $SWN" | json "d[0]['orderId'] if d else ''")
    [ -n "$ORDER_ID" ] && return 0
    sleep 0.2
  done
  echo "the checkout $checkout_id made no order within 60 s" >&2
  return 1
}

# await LABEL STATUS...: waits until the order ORDER_ID is in one of STATUS (the last is the expected
# end), prints it, and fails when it ended otherwise (Cancelled or Delivered) or took over 60 s.
await() {
  local label=$1; shift
  local wanted=" $* " expected=${*: -1}
  step "$label: the order moves on: GET /order/swn/$ORDER_ID (waiting for $*)"
  for _ in $(seq 1 300); do
    local order status
    order=$(curl -fsS "$GATEWAY/order/swn/$ORDER_ID" -H "Authorization: Bearer $SWN")
    status=$(echo "$order" | json 'd["status"]')
    if [[ "$wanted" == *" $status "* ]] || [ "$status" = Cancelled ] || [ "$status" = Delivered ]; then
      echo "$order" | json "'status: %s   cancellationReason: %s   shipment: %s\nhistory: %s' % (d['status'], d['cancellationReason'], d.get('shipment'), ' → '.join(h['status'] + (' (' + h['reason'] + ')' if h.get('reason') else '') for h in d['statusHistory']))"
      if [[ "$wanted" != *" $status "* ]]; then echo "$label: the order is $status, not one of: $*" >&2; return 1; fi
      return 0
    fi
    sleep 0.2
  done
  echo "$label: order $ORDER_ID did not reach $expected within 60 s" >&2
  return 1
}

payment() {
  step "$1: the payment, as admin sees it: GET /payment/$ORDER_ID"
  curl -sS "$GATEWAY/payment/$ORDER_ID" -H "Authorization: Bearer $ADMIN"; echo
}

checkout "4242 4242 4242 4242" "approved"
await "approved" Delivered
ORDERS+=("$ORDER_ID OrderCompleted OrderShipped OrderDelivered")
payment "approved"
step "approved: the parcel, as admin sees it: GET /shipment/$ORDER_ID"
curl -sS "$GATEWAY/shipment/$ORDER_ID" -H "Authorization: Bearer $ADMIN"; echo

checkout "4000 0000 0000 0002" "declined"
await "declined" Cancelled
ORDERS+=("$ORDER_ID OrderCancelled")
payment "declined"

checkout "4242 4242 4242 4242" "cancelled by swn"
await "cancelled by swn" Completed
step "cancelled by swn: before it ships (SHIPPING_DISPATCH_DELAY_MS): POST /order/swn/$ORDER_ID/cancel"
curl -fsS -XPOST "$GATEWAY/order/swn/$ORDER_ID/cancel" -H "Authorization: Bearer $SWN" | json "'HTTP 202, status %s, cancelRequested %s' % (d['status'], d['cancelRequested'])"
await "cancelled by swn" Cancelled
ORDERS+=("$ORDER_ID OrderCompleted OrderCancelled")
payment "cancelled by swn"

step "stock after all three: 5 − 2 (delivered); the declined and the cancelled orders' units went back"
for _ in $(seq 1 50); do
  stock=$(curl -fsS "$GATEWAY/product/$PRODUCT_ID" | json 'd["stock"]')
  [ "$stock" = 3 ] && break
  sleep 0.2
done
echo "stock: $stock"
[ "$stock" = 3 ] || { echo "the stock is $stock, not 3" >&2; exit 1; }

step "swn's e-mails about these orders (notification-service, one per order event): GET /notification/swn"
# Sent a moment after each event: waits until all six are listed as sent.
expected="${ORDERS[*]}"
for _ in $(seq 1 300); do
  mails=$(curl -fsS "$GATEWAY/notification/swn?limit=200" -H "Authorization: Bearer $SWN") || mails='{"items":[]}'
  missing=$(echo "$mails" | EXPECTED="$expected" python3 -c '
import json, os, sys
words = os.environ["EXPECTED"].split()
wanted, order = set(), None
for word in words:
    if word.startswith("Order"):
        wanted.add((order, word))
    else:
        order = word.lower()
sent = {(m["orderId"].lower(), m["event"]) for m in json.load(sys.stdin)["items"] if m.get("sentAt")}
print(len(wanted - sent))')
  [ "$missing" = 0 ] && break
  sleep 0.2
done
echo "$mails" | EXPECTED="$expected" python3 -c '
import json, os, sys
orders = {w.lower() for w in os.environ["EXPECTED"].split() if not w.startswith("Order")}
for m in reversed(json.load(sys.stdin)["items"]):
    if m["orderId"].lower() in orders:
        print("%-15s order %s  to %s  “%s”  sent %s via %s  (Message-ID <%s@swn-shop>)" % (
            m["event"], m["orderId"][:8], m["to"], m["subject"], m["sentAt"], m["channel"], m["id"].lower()))'
[ "$missing" = 0 ] || { echo "$missing of the six e-mails not sent within 60 s" >&2; exit 1; }

if curl -fsS "$MAIL_SINK/health" >/dev/null 2>&1; then
  step "the mail sink got them by SMTP: $MAIL_SINK/ (JSON: $MAIL_SINK/api/messages?to=swn@example.com)"
  curl -fsS "$MAIL_SINK/api/messages?to=swn@example.com" | EXPECTED="$expected" MAILS="$mails" SINK="$MAIL_SINK" python3 -c '
import json, os, sys
orders = {w.lower() for w in os.environ["EXPECTED"].split() if not w.startswith("Order")}
ids = {"<%s@swn-shop>" % m["id"].lower() for m in json.loads(os.environ["MAILS"])["items"] if m["orderId"].lower() in orders}
got = [m for m in json.load(sys.stdin) if any(n.lower() == "message-id" and v.strip().lower() in ids for n, v in m["headers"])]
for m in reversed(got):
    print("%s  from %s  to %s  “%s”" % (m["receivedAt"], m["from"], ", ".join(m["to"]), m["subject"]))
print("%d of the %d e-mails are in the sink; open %s/ to read them" % (len({next(v.strip().lower() for n, v in m["headers"] if n.lower() == "message-id") for m in got}), len(ids), os.environ["SINK"]))'
else
  step "no mail sink answers at $MAIL_SINK (MAIL_SINK=...): with make run, the e-mails are at http://127.0.0.1:8025/"
fi
