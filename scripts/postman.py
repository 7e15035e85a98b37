#!/usr/bin/env python3
"""The Postman collection (deploy/postman/swn-shop.postman_collection.json), made from and checked
against the OpenAPI description (deploy/openapi.yaml).

  python3 scripts/postman.py --write        (re)generates the collection (Postman Collection v2.1)
  python3 scripts/postman.py --check        fails (exit 1) when the collection and the OpenAPI file differ:
                                            an operation without a request, a request that matches no
                                            operation, a body its requestBody schema refuses, a query
                                            parameter or header the operation does not declare (or a
                                            required one missing), a token the operation's security does
                                            not call for, a status the operation does not document, a
                                            variable used before a request sets it, or a committed file
                                            that is not what --write makes
  python3 scripts/postman.py --run BASE_URL runs the collection's requests in order against a running shop
                                            (urllib; [--identity URL] [--var key=value ...]) and prints
                                            pass/fail per request and "N passed, N failed"

The collection is a walk through the shop, top to bottom against a fresh `make run`: FLOW below names
the operation of each step; its method, path, parameters, token, body schema and expected status come
from the OpenAPI file. Every operation of the file must be a step of FLOW (--check says which is not).

The test scripts use a few fixed forms that Postman and Newman run as JavaScript and that --run reads
(lines of any other form are ignored by --run; --check makes sure the committed file is what --write
makes, so there are none):
  pm.test('status 200', () => pm.response.to.have.status(200));
  pm.collectionVariables.set('key', pm.response.json()<path>);           <path>: .name, [0], .length
  pm.collectionVariables.set('key', pm.response.headers.get('ETag'));
  pm.test('name', () => pm.expect(pm.response.json()<path>).to.eql(<JSON value>));
  pm.test('name', () => pm.expect(pm.response.json()<path>).to.eql(pm.collectionVariables.get('key')));
  // poll: until pm.response.json()<path> is one of <JSON list>, every 500 ms, at most 60 tries
      (the request is sent again until the value is one of the list, then the lines above are checked)

Bodies are validated by a small JSON-Schema validator written here (the keywords deploy/openapi.yaml
uses; an unknown keyword is an error, not ignored) and, when the `jsonschema` package is importable,
by jsonschema's Draft 2020-12 validator as well: both must accept every body. Variables in bodies,
paths, queries and headers are replaced by sample values (SAMPLES) before validation.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - CI installs openapi-spec-validator, which brings PyYAML
    sys.exit("postman.py needs PyYAML (python3 -m pip install pyyaml)")

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "deploy" / "openapi.yaml"
COLLECTION_PATH = ROOT / "deploy" / "postman" / "swn-shop.postman_collection.json"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

# ---------------------------------------------------------------------------------------------------
# The walk through the shop
# ---------------------------------------------------------------------------------------------------

# Collection variables, in this order; the empty ones are set by the requests' test scripts.
VARIABLES = [
    ("baseUrl", "http://localhost:8080"),
    ("identityUrl", "http://localhost:9229"),
    ("clientId", "swnshoplocalclient"),
    ("webhookUrl", "https://hooks.example.com/swn"),
    ("adminToken", ""),
    ("swnToken", ""),
    ("productId", ""),
    ("productEtag", ""),
    ("webhookId", ""),
    ("checkoutId", ""),
    ("orderId", ""),
    ("tries", "0"),
]

# What a variable stands for when a request is validated against the OpenAPI file (dynamic ones too).
SAMPLES = {
    "adminToken": "eyJhbGciOiJSUzI1NiJ9.admin.signature",
    "swnToken": "eyJhbGciOiJSUzI1NiJ9.swn.signature",
    "productId": "3f2c8e1a-5b7d-4c9e-8a6f-1d2e3f4a5b6c",
    "productEtag": '"2.10"',
    "webhookId": "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "checkoutId": "7a8b9c0d-1e2f-4a3b-9c4d-5e6f7a8b9c0d",
    "orderId": "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
    "$guid": "0c4e2f6a-8b1d-4c3e-9f5a-7b6d8e0f2a1c",
}

# A 1×1 green WebP (lossless), every byte below 0x80 so that the raw body of a Postman request (a
# string, sent as UTF-8) is these bytes exactly. The product service recognises it by its content.
PICTURE = bytes.fromhex("524946461600000057454250565038 4c090000002f000000002877660600".replace(" ", ""))
assert all(b < 0x80 for b in PICTURE)

PRODUCT = {"name": "Postman Speaker", "description": "Portable", "imageFile": "speaker.png", "price": 59.9,
           "category": "Audio", "stock": 10}
PRODUCT_UPDATE = {"name": "Postman Speaker", "description": "Portable, with a strap", "imageFile": "speaker.png",
                  "price": 59.9, "category": "Audio", "stockDelta": 10}
CHECKOUT = {"userName": "swn", "firstName": "Swn", "lastName": "Postman", "email": "swn@example.com",
            "address": "1 Collection Road", "paymentMethod": "card", "cardInfo": "4242 4242 4242 4242"}


def basket(quantity: int, color: str) -> dict:
    return {"userName": "swn", "items": [{"productId": "{{productId}}", "quantity": quantity, "color": color}]}


class Var(str):
    """A collection variable, as the value a test compares with."""


def step(op: str, name: str, **options) -> dict:
    return {"op": op, "name": name, **options}


def sign_in(user: str, password: str, variable: str) -> dict:
    return {"signIn": (user, password, variable), "name": f"Sign in as {user}"}


# (folder, its description, its steps). A step names its operation (operationId) and may give:
# path (path parameters), query, headers, body (JSON value, or bytes with content_type), token
# ("admin", "swn" or None; by default from x-swn-access), status (by default the lowest documented
# 2xx), capture {variable: JSON path}, capture_header {variable: header}, expect [(JSON path, value,
# test name)], poll (JSON path, [values], test name) and description.
FLOW = [
    ("Sign in", "Cognito's InitiateAuth (USER_PASSWORD_AUTH) at identity, `{{identityUrl}}` (not the gateway: "
     "identity is the local user pool; with a real pool, its cognito-idp endpoint). The ID tokens go to the "
     "collection variables `adminToken` and `swnToken`.", [
        sign_in("admin", "Admin-Passw0rd!", "adminToken"),
        sign_in("swn", "Swn-Passw0rd!", "swnToken"),
    ]),
    ("operations", "The gateway's own routes: liveness, readiness and this API's description.", [
        step("health", "Gateway liveness"),
        step("ready", "Readiness of the services behind the gateway"),
        step("openAPI", "The OpenAPI description"),
    ]),
    ("storefront", "The web shop's page and files, served by the gateway.", [
        step("storefront", "The storefront's page"),
        step("storefrontFile", "The storefront's configuration", path={"file": "config.json"}),
    ]),
    ("product", "The catalog: an admin creates a product (kept in `productId`), replaces it with its ETag, "
     "gives it a picture; anyone lists, searches and reads.", [
        step("listProducts", "List products (public)", query=[("limit", "20")]),
        step("createProduct", "Create a product (admin)", body=PRODUCT, capture={"productId": ".id"}),
        step("getProduct", "Get that product with its ETag (public)", capture_header={"productEtag": "ETag"},
             expect=[(".stock", 10, "10 in stock")]),
        step("updateProduct", "Replace that product, 10 more in stock (admin, If-Match)",
             headers=[("If-Match", "{{productEtag}}")], body=PRODUCT_UPDATE, expect=[(".stock", 20, "20 in stock")]),
        step("putProductImage", "Set that product's picture, a 1×1 WebP (admin)", body=PICTURE,
             content_type="image/webp",
             description="The body is a 1×1 green WebP of 30 bytes, each below 0x80, so that Postman's raw text "
                         "body sends exactly these bytes (a picture file would need a local path)."),
        step("getProductImage", "Get that product's picture (public)"),
        step("listProducts", "Search products: words, category, price range, in stock (public)",
             query=[("q", "postman"), ("category", "Audio"), ("minPrice", "10"), ("maxPrice", "100"),
                    ("inStock", "true"), ("limit", "10")]),
        step("productFacets", "Category counts and price range of a search (public)",
             query=[("q", "speaker"), ("inStock", "true")]),
    ]),
    ("webhook", "An admin subscribes an endpoint (`{{webhookUrl}}`) to order events before the checkouts "
     "(kept in `webhookId`; its deliveries are looked at, and it is deleted, after the orders).", [
        step("createWebhook", "Subscribe an endpoint to order events (admin)",
             body={"url": "{{webhookUrl}}", "events": ["OrderCompleted", "OrderShipped", "OrderDelivered"],
                   "description": "Postman"},
             capture={"webhookId": ".id"}),
        step("listWebhooks", "List the endpoints (admin)", query=[("limit", "20")]),
    ]),
    ("basket", "swn fills a basket (names and prices come from the catalog) and checks it out (kept in "
     "`checkoutId`).", [
        step("storeBasket", "Fill the basket (swn)", body=basket(3, "Blue"),
             expect=[(".totalPrice", 179.7, "total counts quantity")]),
        step("getBasket", "Get the basket (swn)"),
        step("getBasket", "Another user's basket is 403 (swn)", path={"userName": "admin"}, status=403),
        step("listBaskets", "List all non-empty baskets (admin)", query=[("limit", "20")]),
        step("checkoutBasket", "Check out (swn)", headers=[("Idempotency-Key", "{{$guid}}")], body=CHECKOUT,
             capture={"checkoutId": ".checkoutId"},
             expect=[(".cardInfo", "**** **** **** 4242", "card masked")]),
        step("deleteBasket", "Empty the basket (swn)"),
    ]),
    ("order", "The checkout's order (kept in `orderId`) goes through its saga and shipping until it is "
     "delivered; swn returns it. The requests that wait ask again every 500 ms, at most 60 times, in the "
     "Collection Runner, Newman or `scripts/postman.py --run`.", [
        step("listOrdersOfUser", "Find the order of that checkout (swn)", query=[("checkoutId", "{{checkoutId}}")],
             poll=(".length", [1], "one order for that checkout"), capture={"orderId": "[0].orderId"},
             expect=[("[0].checkoutId", Var("checkoutId"), "made from that checkout")]),
        step("listOrdersOfUser", "List my orders (swn)", query=[("limit", "20")]),
        step("getOrderOfUser", "Get one order with its status history (swn)"),
        step("getOrderOfUser", "Wait until the order is delivered (swn)", poll=(".status", ["Delivered"], "delivered")),
        step("returnOrder", "Return that order (swn)", expect=[(".status", "ReturnRequested", "return requested")]),
        step("cancelOrder", "Cancelling it after delivery is 409 (swn)", status=409),
        step("listOrders", "List all orders (admin)", query=[("limit", "20")]),
    ]),
    ("payment", "What payment-service recorded for the order.", [
        step("getPayment", "Get the payment of that order (admin)"),
    ]),
    ("shipment", "What shipping-service keeps of the order's parcel.", [
        step("getShipment", "Get the shipment of that order (admin)"),
        step("listShipments", "List all shipments (admin)", query=[("limit", "20")]),
    ]),
    ("order: cancel before it ships", "A second checkout, confirming the total it saw (`expectedTotal`), whose "
     "order swn cancels at once: it ends Cancelled (CustomerCancelled), refunded and restocked.", [
        step("storeBasket", "Fill the basket again (swn)", body=basket(1, "Black"),
             expect=[(".totalPrice", 59.9, "total of one")]),
        step("checkoutBasket", "Check out again, confirming the total (swn)",
             headers=[("Idempotency-Key", "{{$guid}}")], body={**CHECKOUT, "expectedTotal": 59.9},
             capture={"checkoutId": ".checkoutId"}),
        step("listOrdersOfUser", "Find the order of the second checkout (swn)",
             query=[("checkoutId", "{{checkoutId}}")], poll=(".length", [1], "one order for that checkout"), capture={"orderId": "[0].orderId"}),
        step("cancelOrder", "Cancel that order before it ships (swn)"),
        step("getOrderOfUser", "Wait until the order is cancelled (swn)", poll=(".status", ["Cancelled"], "cancelled"),
             expect=[(".cancellationReason", "CustomerCancelled", "cancelled by the customer")]),
    ]),
    ("notification", "The e-mails notification-service sent swn about these orders.", [
        step("listNotificationsOfUser", "swn's e-mails about the orders (swn)", query=[("limit", "20")]),
    ]),
    ("webhook: deliveries and clean-up", "The endpoint's deliveries of the orders' events, then the endpoint "
     "is unsubscribed (its pending deliveries go with it).", [
        step("listWebhookDeliveries", "The endpoint's deliveries (admin)", query=[("limit", "20")]),
        step("deleteWebhook", "Unsubscribe the endpoint (admin)"),
    ]),
    ("product: clean-up", "The product goes, so the collection can run again.", [
        step("deleteProduct", "Delete the product (admin)"),
    ]),
]

# Path parameters by default: {id} by the operation's tag, the others by name.
PATH_DEFAULTS = {"userName": "swn", "orderId": "{{orderId}}", "file": "config.json"}
ID_BY_TAG = {"product": "{{productId}}", "webhook": "{{webhookId}}"}

COLLECTION_DESCRIPTION = (
    "Every operation of the gateway API (deploy/openapi.yaml), in an order that runs top to bottom against a "
    "fresh `make run`: signs in as admin and swn, creates a product, replaces it and gives it a picture, searches, "
    "subscribes a webhook, fills a basket, checks out, finds the checkout's order, waits for its delivery, returns "
    "it, looks at its payment and shipment, then cancels a second order before it ships; lists e-mails, webhook "
    "deliveries, orders and shipments, and cleans up. Tokens and ids are kept in collection variables. Generated "
    "by `python3 scripts/postman.py --write` and checked against the OpenAPI file by `--check` (CI): edit FLOW in "
    "that script, not this file. The requests that wait (\"Find the order ...\", \"Wait until ...\") ask again every "
    "500 ms, at most 60 times, in the Collection Runner, Newman or `scripts/postman.py --run`."
)

POLL_EVERY_MS = 500
POLL_TRIES = 60

# ---------------------------------------------------------------------------------------------------
# The OpenAPI file
# ---------------------------------------------------------------------------------------------------


class Spec:
    def __init__(self, path: Path = SPEC_PATH):
        self.document = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.operations = []  # dicts: method, path, id, op, parameters, segments
        for template, item in self.document["paths"].items():
            shared = item.get("parameters", [])
            for method in HTTP_METHODS:
                if method not in item:
                    continue
                op = item[method]
                parameters = {}
                for parameter in list(shared) + list(op.get("parameters", [])):
                    parameter = self.deref(parameter)
                    parameters[(parameter["in"], parameter["name"].lower() if parameter["in"] == "header"
                                else parameter["name"])] = parameter
                self.operations.append({
                    "method": method.upper(), "path": template, "id": op["operationId"], "op": op,
                    "parameters": parameters, "segments": template.strip("/").split("/") if template != "/" else [],
                })
        self.by_id = {operation["id"]: operation for operation in self.operations}

    def deref(self, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            node = self.pointer(node["$ref"])
            seen += 1
            if seen > 50:
                raise ValueError("a $ref cycle")
        return node

    def pointer(self, ref: str):
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported: {ref}")
        node = self.document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def security(self, operation) -> list:
        return operation["op"].get("security", self.document.get("security", []))

    def needs_token(self, operation) -> bool:
        requirements = self.security(operation)
        return bool(requirements) and all(requirement for requirement in requirements)

    def allows_token(self, operation) -> bool:
        return any(requirement for requirement in self.security(operation))

    def statuses(self, operation) -> list[int]:
        return sorted(int(code) for code in operation["op"]["responses"] if code.isdigit())

    def success(self, operation) -> int:
        return [code for code in self.statuses(operation) if 200 <= code < 300][0]

    def match(self, method: str, segments: list[str]):
        """The operation whose template matches (the one with the most literal segments first)."""
        candidates = []
        for operation in self.operations:
            template = operation["segments"]
            if operation["method"] != method or len(template) != len(segments):
                continue
            if all((t.startswith("{") and t.endswith("}") and s != "") or t == s for t, s in zip(template, segments)):
                candidates.append((sum(not t.startswith("{") for t in template), operation))
        candidates.sort(key=lambda candidate: -candidate[0])
        return candidates[0][1] if candidates else None


# ---------------------------------------------------------------------------------------------------
# A JSON-Schema validator for the keywords deploy/openapi.yaml uses
# ---------------------------------------------------------------------------------------------------

ANNOTATIONS = {"description", "examples", "example", "default", "title", "deprecated", "readOnly", "writeOnly",
               "contentMediaType", "contentEncoding", "$comment"}
ASSERTIONS = {"$ref", "type", "properties", "required", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
              "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "format", "items", "minItems",
              "maxItems", "uniqueItems", "additionalProperties", "oneOf", "anyOf", "allOf", "not", "minProperties",
              "maxProperties"}
UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_patterns: dict[str, re.Pattern] = {}


def _is_type(value, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise ValueError(f"unknown type {name!r}")


def validate(value, schema, spec: Spec, where: str = "$") -> list[str]:
    """The ways `value` breaks `schema` (empty when it is valid)."""
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{where}: nothing is allowed here"]
    errors: list[str] = []
    for keyword in schema:
        if keyword not in ANNOTATIONS and keyword not in ASSERTIONS and not keyword.startswith("x-"):
            errors.append(f"{where}: the schema keyword {keyword!r} is not supported by this validator")
    if "$ref" in schema:
        errors += validate(value, spec.pointer(schema["$ref"]), spec, where)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, name) for name in types):
            return errors + [f"{where}: {json.dumps(value)[:60]} is not of type {'/'.join(types)}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {json.dumps(value)[:60]} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {json.dumps(value)[:60]} is not {schema['const']!r}")
    if _is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} is above the maximum {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{where}: {value} is not above {schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            errors.append(f"{where}: {value} is not below {schema['exclusiveMaximum']}")
        if "multipleOf" in schema and Decimal(str(value)) % Decimal(str(schema["multipleOf"])) != 0:
            errors.append(f"{where}: {value} is not a multiple of {schema['multipleOf']}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{where}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']} characters")
        if "pattern" in schema:
            pattern = _patterns.get(schema["pattern"]) or _patterns.setdefault(schema["pattern"], re.compile(schema["pattern"]))
            if not pattern.search(value):
                errors.append(f"{where}: {value[:60]!r} does not match the schema's pattern")
        if schema.get("format") == "uuid" and not UUID.match(value):
            errors.append(f"{where}: {value[:60]!r} is not a UUID")
        if schema.get("format") == "date-time" and not DATE_TIME.match(value):
            errors.append(f"{where}: {value[:60]!r} is not a date-time")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if schema.get("uniqueItems") and len({json.dumps(item, sort_keys=True) for item in value}) != len(value):
            errors.append(f"{where}: items are not unique")
        if "items" in schema:
            for index, item in enumerate(value):
                errors += validate(item, schema["items"], spec, f"{where}[{index}]")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}: the required property {name!r} is missing")
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                errors += validate(item, properties[name], spec, f"{where}.{name}")
            elif "additionalProperties" in schema:
                errors += validate(item, schema["additionalProperties"], spec, f"{where}.{name}")
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            errors.append(f"{where}: fewer than {schema['minProperties']} properties")
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            errors.append(f"{where}: more than {schema['maxProperties']} properties")
    for sub in schema.get("allOf", []):
        errors += validate(value, sub, spec, where)
    if "anyOf" in schema and not any(not validate(value, sub, spec, where) for sub in schema["anyOf"]):
        errors.append(f"{where}: matches none of anyOf")
    if "oneOf" in schema:
        matching = sum(not validate(value, sub, spec, where) for sub in schema["oneOf"])
        if matching != 1:
            errors.append(f"{where}: matches {matching} of oneOf, not exactly one")
    if "not" in schema and not validate(value, schema["not"], spec, where):
        errors.append(f"{where}: matches the schema under `not`")
    return errors


def jsonschema_validator():
    """jsonschema's Draft 2020-12 validator when the package is importable (else None)."""
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        return None

    def check(value, schema, spec: Spec) -> list[str]:
        root = {"components": spec.document.get("components", {}), "allOf": [schema]}
        validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
        return [f"$.{'.'.join(str(p) for p in error.absolute_path)}: {error.message[:200]}"
                for error in validator.iter_errors(value)]
    return check


# ---------------------------------------------------------------------------------------------------
# Writing the collection
# ---------------------------------------------------------------------------------------------------


def _js_value(value) -> str:
    if isinstance(value, Var):
        return f"pm.collectionVariables.get('{value}')"
    return json.dumps(value, ensure_ascii=False)


def _raw_url(host: str, path: list[str], query: list[tuple[str, str]]) -> str:
    raw = host + "/" + "/".join(path)
    if query:
        raw += "?" + "&".join(f"{key}={value}" for key, value in query)
    return raw


def _url(host: str, path: list[str], query: list[tuple[str, str]]) -> dict:
    url = {"raw": _raw_url(host, path, query), "host": [host], "path": path}
    if query:
        url["query"] = [{"key": key, "value": value} for key, value in query]
    return url


def _test_lines(status: int, s: dict) -> list[str]:
    names = [name for _, _, name in s.get("expect", [])] + ([s["poll"][2]] if "poll" in s else [])
    if any("'" in name or "\\" in name for name in names):
        raise SystemExit(f"postman.py: a test name of {s['name']!r} has a quote or backslash (they go in '...')")
    lines = [f"pm.test('status {status}', () => pm.response.to.have.status({status}));"]
    for variable, path in s.get("capture", {}).items():
        lines.append(f"pm.collectionVariables.set('{variable}', pm.response.json(){path});")
    for variable, header in s.get("capture_header", {}).items():
        lines.append(f"pm.collectionVariables.set('{variable}', pm.response.headers.get('{header}'));")
    for path, value, name in s.get("expect", []):
        lines.append(f"pm.test('{name}', () => pm.expect(pm.response.json(){path}).to.eql({_js_value(value)}));")
    if "poll" not in s:
        return lines
    path, wanted, reached = s["poll"]
    wanted_js = json.dumps(wanted)
    return [
        f"// poll: until pm.response.json(){path} is one of {wanted_js}, every {POLL_EVERY_MS} ms, at most {POLL_TRIES} tries",
        "const tries = Number(pm.collectionVariables.get('tries') || 0);",
        f"let polled; try {{ polled = pm.response.json(){path}; }} catch (e) {{ polled = undefined; }}",
        f"if (!{wanted_js}.includes(polled) && tries < {POLL_TRIES}) {{",
        "  pm.collectionVariables.set('tries', tries + 1);",
        "  postman.setNextRequest(pm.info.requestName);",
        "} else {",
        "  pm.collectionVariables.set('tries', 0);",
        "  " + lines[0],
        f"  pm.test('{reached}', () => pm.expect({wanted_js}).to.include(polled));",
        *["  " + line for line in lines[1:]],
        "}",
    ]


def _event(listen: str, lines: list[str]) -> dict:
    return {"listen": listen, "script": {"type": "text/javascript", "exec": lines}}


def _json_body(value) -> dict:
    return {"mode": "raw", "raw": json.dumps(value, indent=2, ensure_ascii=False),
            "options": {"raw": {"language": "json"}}}


def sign_in_item(user: str, password: str, variable: str) -> dict:
    body = {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "{{clientId}}",
            "AuthParameters": {"USERNAME": user, "PASSWORD": password}}
    return {
        "name": f"Sign in as {user}",
        "request": {
            "method": "POST",
            "header": [{"key": "Content-Type", "value": "application/x-amz-json-1.1"},
                       {"key": "X-Amz-Target", "value": "AWSCognitoIdentityProviderService.InitiateAuth"}],
            "url": _url("{{identityUrl}}", [""], []),
            "body": _json_body(body),
            "description": f"Signs in as `{user}` (identity's Cognito InitiateAuth) and keeps the ID token in "
                           f"`{variable}`. Expects 200.",
        },
        "event": [_event("test", [
            "pm.test('status 200', () => pm.response.to.have.status(200));",
            f"pm.collectionVariables.set('{variable}', pm.response.json().AuthenticationResult.IdToken);",
        ])],
    }


def example_for(schema, spec: Spec):
    """A value for a schema with no example of FLOW's (operations not yet in FLOW): examples, enum, default,
    else the smallest of its type, with the required properties only."""
    schema = spec.deref(schema)
    if "$ref" in schema:
        return example_for(spec.pointer(schema["$ref"]), spec)
    for key in ("examples", "enum"):
        if schema.get(key):
            return schema[key][0]
    if "default" in schema:
        return schema["default"]
    if "allOf" in schema:
        merged = {}
        for sub in schema["allOf"]:
            value = example_for(sub, spec)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return example_for(schema[key][0], spec)
    kind = schema.get("type", "object")
    kind = [k for k in kind if k != "null"][0] if isinstance(kind, list) else kind
    if kind == "object":
        return {name: example_for(schema.get("properties", {}).get(name, {}), spec) for name in schema.get("required", [])}
    if kind == "array":
        return [example_for(schema.get("items", {}), spec) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if schema.get("format") == "uuid":
        return SAMPLES["productId"]
    return "x" * max(1, schema.get("minLength", 1))


def request_item(spec: Spec, s: dict) -> dict:
    operation = spec.by_id[s["op"]]
    op = operation["op"]
    tag = (op.get("tags") or [operation["segments"][0] if operation["segments"] else ""])[0]
    path_values = {**PATH_DEFAULTS, "id": ID_BY_TAG.get(tag, "{{id}}"), **s.get("path", {})}
    path = [path_values[segment[1:-1]] if segment.startswith("{") else segment for segment in operation["segments"]]
    if not path:
        path = [""]
    access = op.get("x-swn-access", "anyone")
    token = s.get("token", {"admin": "admin", "owner": "swn", "signedIn": "swn"}.get(access))
    status = s.get("status", spec.success(operation))
    headers = []
    body = None
    if "requestBody" in op:
        content = spec.deref(op["requestBody"])["content"]
        content_type = s.get("content_type", "application/json" if "application/json" in content else next(iter(content)))
        headers.append({"key": "Content-Type", "value": content_type})
        value = s["body"] if "body" in s else example_for(content[content_type].get("schema", {}), spec)
        if isinstance(value, bytes):
            body = {"mode": "raw", "raw": value.decode("ascii"), "options": {"raw": {"language": "text"}}}
        else:
            body = _json_body(value)
    if token:
        headers.append({"key": "Authorization", "value": f"Bearer {{{{{token}Token}}}}"})
    headers += [{"key": key, "value": value} for key, value in s.get("headers", [])]
    who = {"anyone": "anyone", "signedIn": "any signed-in user", "owner": "the user named in the path, or an admin",
           "admin": "an admin"}.get(access, access)
    description = (f"{op.get('summary', '')}\n\n`{operation['method']} {operation['path']}` (operationId "
                   f"`{operation['id']}`; who may call it: {who}). Expects {status}.")
    if s.get("description"):
        description = s["description"] + "\n\n" + description
    request = {"method": operation["method"], "header": headers, "url": _url("{{baseUrl}}", path, s.get("query", []))}
    if body:
        request["body"] = body
    request["description"] = description
    events = []
    if "poll" in s:
        events.append(_event("prerequest", [
            f"if (Number(pm.collectionVariables.get('tries') || 0) > 0) {{ setTimeout(() => {{}}, {POLL_EVERY_MS}); }}"]))
    events.append(_event("test", _test_lines(status, s)))
    return {"name": s["name"], "request": request, "event": events}


def build(spec: Spec) -> tuple[dict, list[str]]:
    """The collection, and the operations FLOW does not have (given a placeholder request each)."""
    folders = []
    covered = set()
    for name, description, steps in FLOW:
        items = []
        for s in steps:
            if "signIn" in s:
                items.append(sign_in_item(*s["signIn"]))
                continue
            if s["op"] not in spec.by_id:
                raise SystemExit(f"postman.py: FLOW names {s['op']!r}, which deploy/openapi.yaml does not have")
            covered.add(s["op"])
            items.append(request_item(spec, s))
        folders.append({"name": name, "description": description, "item": items})
    missing = [operation["id"] for operation in spec.operations if operation["id"] not in covered]
    if missing:
        folders.append({
            "name": "not yet in the walk-through",
            "description": "Operations of deploy/openapi.yaml that FLOW in scripts/postman.py does not have yet; "
                           "their bodies are made from the schema. `--check` fails until FLOW has them.",
            "item": [request_item(spec, step(op, spec.by_id[op]["op"].get("summary", op))) for op in missing],
        })
    collection = {
        "info": {"name": "swn-shop", "description": COLLECTION_DESCRIPTION, "schema": SCHEMA_URL},
        "variable": [{"key": key, "value": value} for key, value in VARIABLES],
        "item": folders,
    }
    return collection, missing


def render(collection: dict) -> str:
    return json.dumps(collection, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------------
# Checking the collection
# ---------------------------------------------------------------------------------------------------

VARIABLE = re.compile(r"\{\{([^{}]+)\}\}")
STATUS_LINE = re.compile(r"pm\.response\.to\.have\.status\((\d{3})\)")
SETS = re.compile(r"pm\.collectionVariables\.set\('([^']+)'")


def flatten(items: list, folder: str = "") -> list[tuple[str, dict]]:
    out = []
    for item in items:
        if "item" in item:
            out += flatten(item["item"], item.get("name", ""))
        else:
            out.append((folder, item))
    return out


def substitute(text: str, values: dict[str, str], problems: list[str], label: str) -> str:
    def one(match):
        name = match.group(1).strip()
        if name in values:
            return values[name]
        problems.append(f"{label}: the variable {{{{{name}}}}} has no sample value (SAMPLES in scripts/postman.py)")
        return match.group(0)
    return VARIABLE.sub(one, text)


def coerce(text: str, schema: dict, spec: Spec):
    """A query, path or header value as its schema's type reads it."""
    schema = spec.deref(schema)
    types = schema.get("type", "string")
    types = types if isinstance(types, list) else [types]
    if "integer" in types and re.fullmatch(r"-?\d+", text):
        return int(text)
    if "number" in types and re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    return text


def script_lines(item: dict, listen: str) -> list[str]:
    lines = []
    for event in item.get("event", []):
        if event.get("listen") == listen:
            exec_ = event.get("script", {}).get("exec", [])
            lines += exec_ if isinstance(exec_, list) else exec_.splitlines()
    return lines


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def check(spec: Spec, collection_path: Path = COLLECTION_PATH) -> int:
    problems: list[str] = []
    try:
        committed_text = collection_path.read_text(encoding="utf-8")
        collection = json.loads(committed_text)
    except (OSError, ValueError) as error:
        print(f"postman: cannot read {collection_path}: {error}")
        return 1
    if collection.get("info", {}).get("schema") != SCHEMA_URL:
        problems.append(f"info.schema is not the Postman Collection v2.1 schema ({SCHEMA_URL})")
    declared = {v["key"]: v.get("value", "") for v in collection.get("variable", [])}
    samples = {**{key: value for key, value in declared.items()}, **SAMPLES}
    available = {key for key, value in declared.items() if value} | {"$guid"}
    other_validator = jsonschema_validator()
    covered: dict[str, int] = {}
    bodies = queries = requests = identity = 0

    for folder, item in flatten(collection.get("item", [])):
        label = f"{folder} / {item.get('name', '?')}"
        request = item.get("request")
        if not isinstance(request, dict) or "url" not in request or "method" not in request:
            problems.append(f"{label}: not a request with a method and a url")
            continue
        requests += 1
        url = request["url"]
        host = (url.get("host") or [""])[0]
        path = url.get("path", [])
        query = [(q["key"], q.get("value", "")) for q in url.get("query", []) if not q.get("disabled")]
        if url.get("raw") != _raw_url(host, path, query):
            problems.append(f"{label}: url.raw {url.get('raw')!r} differs from its host, path and query")
        text_parts = [url.get("raw", "")] + [h.get("value", "") for h in request.get("header", [])]
        text_parts.append(request.get("body", {}).get("raw", ""))
        used = {name.strip() for part in text_parts for name in VARIABLE.findall(part)}
        for name in sorted(used - available):
            why = "is not a collection variable" if name not in declared else "is used before a request sets it"
            problems.append(f"{label}: {{{{{name}}}}} {why}")
        statuses = [int(code) for line in script_lines(item, "test") for code in STATUS_LINE.findall(line)]
        for line in script_lines(item, "test"):
            available.update(SETS.findall(line))
        if len(set(statuses)) != 1:
            problems.append(f"{label}: its test script must assert one status (pm.response.to.have.status(N))")
        headers = {h["key"].lower(): h.get("value", "") for h in request.get("header", []) if not h.get("disabled")}

        if host == "{{identityUrl}}":
            identity += 1
            if request["method"] != "POST" or not headers.get("x-amz-target", "").startswith("AWSCognitoIdentityProviderService."):
                problems.append(f"{label}: a request to {{{{identityUrl}}}} must be a Cognito call (POST, X-Amz-Target)")
            continue
        if host != "{{baseUrl}}":
            problems.append(f"{label}: the url must start with {{{{baseUrl}}}} (the gateway) or {{{{identityUrl}}}}")
            continue
        segments = [] if path == [""] else path
        operation = spec.match(request["method"], segments)
        if operation is None:
            problems.append(f"{label}: {request['method']} /{'/'.join(path)} matches no operation of deploy/openapi.yaml")
            continue
        covered[operation["id"]] = covered.get(operation["id"], 0) + 1
        op = operation["op"]
        where = f"{label} ({operation['method']} {operation['path']})"
        if statuses and statuses[0] not in spec.statuses(operation):
            problems.append(f"{where}: expects {statuses[0]}, which the operation does not document "
                            f"({', '.join(map(str, spec.statuses(operation)))})")

        # Path parameters: concrete values and samples of variables, against their schemas.
        for template, value in zip(operation["segments"], segments):
            if template.startswith("{"):
                name = template[1:-1]
                parameter = operation["parameters"].get(("path", name))
                if parameter is None:
                    problems.append(f"{where}: the path parameter {name!r} is not declared")
                    continue
                concrete = substitute(value, samples, problems, where)
                for error in validate(coerce(concrete, parameter.get("schema", {}), spec), parameter.get("schema", {}), spec, name):
                    problems.append(f"{where}: path parameter {error}")

        # Query parameters: declared, required ones there, values valid.
        for key, value in query:
            parameter = operation["parameters"].get(("query", key))
            if parameter is None:
                problems.append(f"{where}: the query parameter {key!r} is not declared by {operation['id']}")
                continue
            queries += 1
            concrete = substitute(value, samples, problems, where)
            schema = parameter.get("schema", {})
            for error in validate(coerce(concrete, schema, spec), schema, spec, key):
                problems.append(f"{where}: query parameter {error}")
        for (place, name), parameter in operation["parameters"].items():
            if place == "query" and parameter.get("required") and name not in {k for k, _ in query}:
                problems.append(f"{where}: the required query parameter {name!r} is missing")
            if place == "header" and parameter.get("required") and name not in headers:
                problems.append(f"{where}: the required header {parameter['name']!r} is missing")

        # Headers: the declared ones, Content-Type for a body, Authorization as the security says.
        for key, value in headers.items():
            if key in ("content-type", "authorization", "accept"):
                continue
            parameter = operation["parameters"].get(("header", key))
            if parameter is None:
                problems.append(f"{where}: the header {key!r} is not a parameter of {operation['id']}")
                continue
            concrete = substitute(value, samples, problems, where)
            for error in validate(concrete, parameter.get("schema", {}), spec, key):
                problems.append(f"{where}: header {error}")
        authorization = headers.get("authorization")
        token = re.fullmatch(r"Bearer \{\{(\w+)\}\}", authorization or "")
        if authorization is not None and not token:
            problems.append(f"{where}: Authorization must be 'Bearer {{{{<token variable>}}}}'")
        if spec.needs_token(operation) and not authorization and statuses[:1] != [401]:
            problems.append(f"{where}: the operation needs a token and the request sends none")
        if authorization and not spec.allows_token(operation):
            problems.append(f"{where}: the operation takes no token (security: []) and the request sends one")
        if token and op.get("x-swn-access") == "admin" and token.group(1) != "adminToken" and statuses[:1] not in ([401], [403]):
            problems.append(f"{where}: an admin operation called with {{{{{token.group(1)}}}}} (expects {statuses[:1]})")

        # The body, against the requestBody.
        body = request.get("body")
        request_body = spec.deref(op["requestBody"]) if "requestBody" in op else None
        if body and not request_body:
            problems.append(f"{where}: the request has a body; the operation takes none")
        elif request_body and not body and request_body.get("required"):
            problems.append(f"{where}: the operation needs a body; the request has none")
        elif body and request_body:
            content_type = headers.get("content-type", "").split(";")[0].strip()
            media = request_body["content"].get(content_type)
            if body.get("mode") != "raw":
                problems.append(f"{where}: the body must be raw (mode {body.get('mode')!r})")
            elif media is None:
                problems.append(f"{where}: Content-Type {content_type!r} is not one of {sorted(request_body['content'])}")
            else:
                bodies += 1
                schema = media.get("schema", {})
                raw = substitute(body["raw"], samples, problems, where)
                if content_type.endswith("json"):
                    try:
                        value = json.loads(raw)
                    except ValueError as error:
                        problems.append(f"{where}: the body is not JSON: {error}")
                        continue
                    problems += [f"{where}: body {error}" for error in validate(value, schema, spec)]
                    if other_validator:
                        problems += [f"{where}: body (jsonschema) {error}" for error in other_validator(value, schema, spec)]
                    # The validator must see what is wrong: each required property taken away is refused.
                    for name in spec.deref(schema).get("required", []) if isinstance(value, dict) else []:
                        broken = {k: v for k, v in value.items() if k != name}
                        if not validate(broken, schema, spec):
                            problems.append(f"{where}: the validator accepts the body without {name!r}")
                else:
                    data = raw.encode("utf-8")
                    if "maxLength" in schema and len(data) > schema["maxLength"]:
                        problems.append(f"{where}: the body is over {schema['maxLength']} bytes")

    for operation in spec.operations:
        if operation["id"] not in covered:
            problems.append(f"{operation['method']} {operation['path']} ({operation['id']}) has no request in the collection")
    generated, missing = build(spec)
    for op in missing:
        problems.append(f"{op} is not a step of FLOW in scripts/postman.py (the collection has only a placeholder)")
    expected_text = render(generated)
    if committed_text != expected_text:
        diff = list(difflib.unified_diff(committed_text.splitlines(), expected_text.splitlines(),
                                         shown(collection_path), "python3 scripts/postman.py --write",
                                         lineterm="", n=1))
        problems.append("the committed collection is not what --write makes (run python3 scripts/postman.py --write):\n    "
                        + "\n    ".join(diff[:40]) + ("\n    ..." if len(diff) > 40 else ""))

    validators = "built-in validator" + (" and jsonschema (Draft 2020-12)" if other_validator else "; jsonschema not importable")
    summary = (f"{len(spec.operations)} operations, {len(covered)} covered; {requests} requests "
               f"({identity} sign-in at identity); {bodies} bodies checked ({validators}); {queries} query parameters checked")
    if problems:
        for problem in problems:
            print(f"postman: {problem}")
        print(f"postman: FAILED, {len(problems)} problem(s): {summary}")
        return 1
    print(f"postman: OK: {summary}")
    return 0


# ---------------------------------------------------------------------------------------------------
# Running the collection
# ---------------------------------------------------------------------------------------------------

JSON_PATH = re.compile(r"\.([A-Za-z_$][\w$]*)|\[(\d+)\]")
TEST_STATUS = re.compile(r"^pm\.test\('([^']*)', \(\) => pm\.response\.to\.have\.status\((\d{3})\)\);$")
SET_JSON = re.compile(r"^pm\.collectionVariables\.set\('([^']+)', pm\.response\.json\(\)((?:\.[\w$]+|\[\d+\])*)\);$")
SET_HEADER = re.compile(r"^pm\.collectionVariables\.set\('([^']+)', pm\.response\.headers\.get\('([^']+)'\)\);$")
EXPECT = re.compile(r"^pm\.test\('([^']*)', \(\) => pm\.expect\(pm\.response\.json\(\)((?:\.[\w$]+|\[\d+\])*)\)\.to\.eql\((.*)\)\);$")
POLL = re.compile(r"^// poll: until pm\.response\.json\(\)((?:\.[\w$]+|\[\d+\])*) is one of (\[.*\]), every (\d+) ms, at most (\d+) tries$")
GET_VARIABLE = re.compile(r"^pm\.collectionVariables\.get\('([^']+)'\)$")


def json_path(document, path: str):
    value = document
    for name, index in JSON_PATH.findall(path):
        if name == "length" and isinstance(value, (list, str)):
            value = len(value)
        elif name:
            value = value[name]
        else:
            value = value[int(index)]
    return value


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def send(method: str, url: str, headers: dict, body: bytes | None, timeout: float = 30):
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def run(base_url: str, identity_url: str | None, overrides: list[str], collection_path: Path = COLLECTION_PATH) -> int:
    collection = json.loads(collection_path.read_text(encoding="utf-8"))
    variables = {v["key"]: v.get("value", "") for v in collection.get("variable", [])}
    variables["baseUrl"] = base_url.rstrip("/")
    if identity_url:
        variables["identityUrl"] = identity_url.rstrip("/")
    for override in overrides:
        key, _, value = override.partition("=")
        variables[key] = value

    def fill(text: str) -> str:
        def one(match):
            name = match.group(1).strip()
            if name == "$guid":
                return str(uuid.uuid4())
            if name == "$timestamp":
                return str(int(time.time()))
            return str(variables.get(name, match.group(0)))
        return VARIABLE.sub(one, text)

    passed = failed = 0
    for folder, item in flatten(collection["item"]):
        request = item["request"]
        lines = [line.strip() for line in script_lines(item, "test")]
        poll = next((POLL.match(line) for line in lines if POLL.match(line)), None)
        tries = 0
        started = time.monotonic()
        while True:
            url = urllib.parse.quote(fill(request["url"]["raw"]), safe=":/?&=%#@!$'()*+,;[]~")
            headers = {h["key"]: fill(h.get("value", "")) for h in request.get("header", []) if not h.get("disabled")}
            body = fill(request["body"]["raw"]).encode("utf-8") if request.get("body") else None
            try:
                status, response_headers, data = send(request["method"], url, headers, body)
            except OSError as error:
                status, response_headers, data = 0, {}, str(error).encode()
            try:
                document = json.loads(data) if data else None
            except ValueError:
                document = None
            if not poll:
                break
            try:
                polled = json_path(document, poll.group(1))
            except (KeyError, IndexError, TypeError):
                polled = None
            if polled in json.loads(poll.group(2)) or tries >= int(poll.group(4)):
                break
            tries += 1
            time.sleep(int(poll.group(3)) / 1000)
        failures = []
        if poll and polled not in json.loads(poll.group(2)):
            failures.append(f"{poll.group(1)} is {polled!r} after {tries} tries, not one of {poll.group(2)}")
        lower_headers = {key.lower(): value for key, value in response_headers.items()}
        for line in lines:
            if m := TEST_STATUS.match(line):
                if status != int(m.group(2)):
                    failures.append(f"status {status}, expected {m.group(2)}: {data[:200].decode('utf-8', 'replace')}")
            elif m := SET_JSON.match(line):
                try:
                    variables[m.group(1)] = json_path(document, m.group(2))
                except (KeyError, IndexError, TypeError):
                    failures.append(f"no {m.group(2)} in the answer for {m.group(1)}")
            elif m := SET_HEADER.match(line):
                if m.group(2).lower() in lower_headers:
                    variables[m.group(1)] = lower_headers[m.group(2).lower()]
                else:
                    failures.append(f"no {m.group(2)} header for {m.group(1)}")
            elif m := EXPECT.match(line):
                reference = GET_VARIABLE.match(m.group(3))
                expected = variables.get(reference.group(1)) if reference else json.loads(m.group(3))
                try:
                    actual = json_path(document, m.group(2))
                except (KeyError, IndexError, TypeError):
                    actual = "(absent)"
                if actual != expected:
                    failures.append(f"{m.group(1)}: {m.group(2)} is {actual!r}, expected {expected!r}")
        took = time.monotonic() - started
        retries = f", {tries} retries" if tries else ""
        if failures:
            failed += 1
            print(f"FAIL  {folder} / {item['name']}: {request['method']} {url} -> {status} ({took:.1f} s{retries})")
            for failure in failures:
                print(f"      {failure}")
        else:
            passed += 1
            print(f"ok    {folder} / {item['name']}: {request['method']} {url} -> {status} ({took:.1f} s{retries})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="(re)generate the collection from deploy/openapi.yaml")
    mode.add_argument("--check", action="store_true", help="check the collection against deploy/openapi.yaml")
    mode.add_argument("--run", metavar="BASE_URL", help="run the collection against a shop's gateway")
    parser.add_argument("--identity", metavar="URL", help="identity's URL for --run (default: the collection's identityUrl)")
    parser.add_argument("--var", action="append", default=[], metavar="KEY=VALUE", help="a collection variable for --run")
    args = parser.parse_args()
    spec = Spec()
    if args.write:
        collection, missing = build(spec)
        COLLECTION_PATH.write_text(render(collection), encoding="utf-8")
        requests = len(flatten(collection["item"]))
        print(f"postman: wrote {shown(COLLECTION_PATH)}: {requests} requests in {len(collection['item'])} "
              f"folders for {len(spec.operations)} operations")
        for op in missing:
            print(f"postman: {op} is not in FLOW yet: a placeholder request made from its schema (--check fails until FLOW has it)")
        return 0
    if args.check:
        return check(spec)
    return run(args.run, args.identity, args.var)


if __name__ == "__main__":
    sys.exit(main())
