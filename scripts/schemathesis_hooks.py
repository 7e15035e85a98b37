"""Schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

They align the generator with rules that JSON Schema cannot state (they never change what a
response is checked against), and drop one check the contract rules out:

- Text fields refuse unassigned and private-use code points (general categories Cn, Co), as the
  services' TextRules do. The patterns in deploy/openapi.yaml list the other refused characters
  (controls, format characters, separators, private use of the BMP), but which code points are
  unassigned depends on the Unicode version, and the 131,068 private-use code points of planes 15
  and 16 make the patterns slow to generate from, so such a code point is replaced with `x` in
  every generated value. No pattern refers to them, so this changes no case's validity. (Path
  parameters reach the hook percent-encoded: they are decoded, cleaned and encoded again. The
  coverage phase does not run these hooks; it draws ASCII text, which needs no cleaning.)
- Every user has a basket (CONTRACT.md): after `DELETE /basket/{userName}`, `GET` answers an empty
  basket, so the use-after-delete check (ST301) does not apply to baskets.
- `minPrice` above `maxPrice` (a 400 the schema cannot state) is swapped into a valid range.
- A valid checkout gets an `Idempotency-Key` of its own: the generator repeats keys across different
  bodies, which the API rightly refuses (422), and that would hide real validation mismatches.
"""

from __future__ import annotations

import itertools
import unicodedata
from urllib.parse import quote, unquote

import schemathesis

_keys = itertools.count(1)


def _allowed(character: str) -> bool:
    category = unicodedata.category(character)
    return category != "Cn" and not (category == "Co" and ord(character) > 0xFFFF)


def _sanitized(value):
    """`value` with unassigned and astral private-use code points replaced by `x`."""
    if isinstance(value, str):
        return value if all(map(_allowed, value)) else "".join(c if _allowed(c) else "x" for c in value)
    if isinstance(value, dict):
        return {_sanitized(key): _sanitized(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_sanitized(item) for item in value]
    return value


def _is_positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


# Generation-time hooks on each part of a request, before Schemathesis builds (and judges) the case.
@schemathesis.hook
def map_path_parameters(context, path_parameters):
    # Path parameters reach this hook already percent-encoded (`quote(value, safe="")`).
    if not path_parameters:
        return path_parameters
    mapped = {}
    for name, value in path_parameters.items():
        if isinstance(value, str):
            decoded = unquote(value)
            clean = _sanitized(decoded)
            if clean != decoded:
                value = quote(clean, safe="")
        mapped[name] = value
    return mapped


def _amount(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@schemathesis.hook
def map_query(context, query):
    query = _sanitized(query)
    # `minPrice` above `maxPrice` is a 400 the schema cannot state: such a pair is swapped.
    if isinstance(query, dict):
        low, high = _amount(query.get("minPrice")), _amount(query.get("maxPrice"))
        if low is not None and high is not None and low > high:
            query = dict(query, minPrice=query["maxPrice"], maxPrice=query["minPrice"])
    return query


@schemathesis.hook
def map_headers(context, headers):
    return _sanitized(headers)


@schemathesis.hook
def map_body(context, body):
    return _sanitized(body)


@schemathesis.hook
def map_case(context, case):
    if not _is_positive(case):
        return case
    operation = case.operation
    if operation.path == "/basket/checkout" and case.headers and "Idempotency-Key" in case.headers:
        case.headers = {**case.headers, "Idempotency-Key": f"st-{next(_keys)}"}
    return case


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    return not (getattr(failure, "code", None) == "ST301" and str(getattr(failure, "free", "")).startswith("DELETE /basket/"))
