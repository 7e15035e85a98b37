#!/usr/bin/env bash
# `make demo`: the checkout flow with curl against a running `make run` (or `docker compose up`),
# printing each step. GATEWAY and IDENTITY override the URLs.
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

step "admin creates a product: POST /product"
PRODUCT=$(curl -fsS -XPOST "$GATEWAY/product" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"name":"Demo Headphones","description":"Noise cancelling","imageFile":"headphones.png","price":129.99,"category":"Audio"}')
echo "$PRODUCT"
PRODUCT_ID=$(echo "$PRODUCT" | json 'd["id"]')

step "swn fills the basket (2 × headphones; the price comes from the catalog): POST /basket"
curl -fsS -XPOST "$GATEWAY/basket" -H "Authorization: Bearer $SWN" -H 'Content-Type: application/json' \
  -d "{\"userName\":\"swn\",\"items\":[{\"productId\":\"$PRODUCT_ID\",\"quantity\":2,\"color\":\"Black\",\"price\":0.01}]}"
echo

step "swn checks out: POST /basket/checkout (Idempotency-Key)"
KEY=demo-$(date +%s)
CHECKOUT=$(curl -fsS -XPOST "$GATEWAY/basket/checkout" -H "Authorization: Bearer $SWN" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: $KEY" \
  -d '{"userName":"swn","firstName":"Swn","lastName":"Demo","email":"swn@example.com","address":"1 Demo Street","paymentMethod":"card","cardInfo":"4242 4242 4242 4242"}')
echo "$CHECKOUT"
CHECKOUT_ID=$(echo "$CHECKOUT" | json 'd["checkoutId"]')

step "the order appears: GET /order/swn"
for _ in $(seq 1 50); do
  ORDERS=$(curl -fsS "$GATEWAY/order/swn" -H "Authorization: Bearer $SWN")
  if echo "$ORDERS" | grep -q "$CHECKOUT_ID"; then
    echo "$ORDERS" | json "json.dumps([o for o in d if o['checkoutId'] == '$CHECKOUT_ID'][0])"
    step "done: checkout $CHECKOUT_ID became an order"
    exit 0
  fi
  sleep 0.2
done
echo "no order for checkout $CHECKOUT_ID after 10 s" >&2
exit 1
