#!/usr/bin/env bash
# `make demo`: two checkouts with curl against a running `make run` (or `docker compose up`),
# printing each step: one paid with an approving card that ends `Completed`, one with the declining
# test card 0002 that ends `Cancelled` (PaymentDeclined) with its stock given back. It exits non-zero
# when an order does not end as expected or the stock is not 3 afterwards (make compose-test relies on it).
# GATEWAY and IDENTITY override the URLs.
set -euo pipefail
GATEWAY=${GATEWAY:-http://localhost:8080}
IDENTITY=${IDENTITY:-http://localhost:9229}
CLIENT_ID=${CLIENT_ID:-swnshoplocalclient}
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

# checkout CARD LABEL EXPECTED: fills swn's basket with 2 headphones, checks out, prints the finished
# order; fails unless its final status is EXPECTED.
checkout() {
  local card=$1 label=$2 expected=$3
  step "$label: swn fills the basket (2 × headphones; the price comes from the catalog): POST /basket"
  curl -fsS -XPOST "$GATEWAY/basket" -H "Authorization: Bearer $SWN" -H 'Content-Type: application/json' \
    -d "{\"userName\":\"swn\",\"items\":[{\"productId\":\"$PRODUCT_ID\",\"quantity\":2,\"color\":\"Black\",\"price\":0.01}]}"
  echo
  step "$label: swn checks out with card $card: POST /basket/checkout (Idempotency-Key)"
  local checkout checkout_id
  checkout=$(curl -fsS -XPOST "$GATEWAY/basket/checkout" -H "Authorization: Bearer $SWN" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: demo-$(date +%s%N)" \
    -d "{\"userName\":\"swn\",\"firstName\":\"Swn\",\"lastName\":\"Demo\",\"email\":\"swn@example.com\",\"address\":\"1 Demo Street\",\"paymentMethod\":\"card\",\"cardInfo\":\"$card\"}")
  echo "$checkout"
  checkout_id=$(echo "$checkout" | json 'd["checkoutId"]')
  step "$label: the order goes through its saga: GET /order/swn/{orderId}"
  for _ in $(seq 1 300); do
    local orders order_id order status
    orders=$(curl -fsS "$GATEWAY/order/swn" -H "Authorization: Bearer $SWN")
    order_id=$(echo "$orders" | json "next((o['orderId'] for o in d if o['checkoutId'] == '$checkout_id'), '')")
    if [ -n "$order_id" ]; then
      order=$(curl -fsS "$GATEWAY/order/swn/$order_id" -H "Authorization: Bearer $SWN")
      status=$(echo "$order" | json 'd["status"]')
      if [ "$status" = Completed ] || [ "$status" = Cancelled ]; then
        echo "$order" | json "'status: %s   cancellationReason: %s\nhistory: %s' % (d['status'], d['cancellationReason'], ' → '.join(h['status'] + (' (' + h['reason'] + ')' if h.get('reason') else '') for h in d['statusHistory']))"
        step "$label: the payment, as admin sees it: GET /payment/$order_id"
        curl -sS "$GATEWAY/payment/$order_id" -H "Authorization: Bearer $ADMIN"; echo
        if [ "$status" != "$expected" ]; then echo "$label: the order ended $status, not $expected" >&2; return 1; fi
        return 0
      fi
    fi
    sleep 0.2
  done
  echo "the order of checkout $checkout_id did not finish within 60 s" >&2
  return 1
}

checkout "4242 4242 4242 4242" "approved" Completed
checkout "4000 0000 0000 0002" "declined" Cancelled

step "stock after both: 5 − 2 (completed); the declined order's 2 went back"
for _ in $(seq 1 50); do
  stock=$(curl -fsS "$GATEWAY/product/$PRODUCT_ID" | json 'd["stock"]')
  [ "$stock" = 3 ] && break
  sleep 0.2
done
echo "stock: $stock"
[ "$stock" = 3 ] || { echo "the stock is $stock, not 3" >&2; exit 1; }
