"""Schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

They align the generator with rules that JSON Schema cannot state (never touching negative
cases or responses), and drop one check the contract rules out:

- Text fields refuse unassigned and private-use code points (general categories Cn, Co), as the
  services' TextRules do. The patterns in deploy/openapi.yaml list the other refused characters
  (controls, format characters, separators, private use of the BMP), but which code points are
  unassigned depends on the Unicode version, and the 131,068 private-use code points of planes 15
  and 16 make the patterns slow to generate from, so a "valid" case holding one is dropped here.
- `cursor` of `GET /product` is opaque: only a value the service issued is valid. A generated
  "valid" cursor is replaced with a real one (SWN_ST_PRODUCT_CURSOR), or dropped.
- Every user has a basket (CONTRACT.md): after `DELETE /basket/{userName}`, `GET` answers an empty
  basket, so the use-after-delete check (ST301) does not apply to baskets.
- A valid checkout gets an `Idempotency-Key` of its own: the generator repeats keys across different
  bodies, which the API rightly refuses (422), and that would hide real validation mismatches.
"""

from __future__ import annotations

import itertools
import os
import unicodedata

import schemathesis

_keys = itertools.count(1)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _has_unassigned(text: str) -> bool:
    return any(unicodedata.category(character) in ("Cn", "Co") for character in text)


def _is_positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def filter_case(context, case) -> bool:
    if not _is_positive(case):
        return True
    parts = (case.body, case.query, case.path_parameters, case.headers)
    return not any(_has_unassigned(text) for part in parts for text in _strings(part))


@schemathesis.hook
def map_case(context, case):
    if (
        _is_positive(case)
        and case.operation.method.upper() == "GET"
        and case.operation.path == "/product"
        and case.query
        and "cursor" in case.query
    ):
        cursor = os.environ.get("SWN_ST_PRODUCT_CURSOR", "")
        query = dict(case.query)
        if cursor:
            query["cursor"] = cursor
        else:
            del query["cursor"]
        case.query = query
    if (
        _is_positive(case)
        and case.operation.path == "/basket/checkout"
        and case.headers
        and "Idempotency-Key" in case.headers
    ):
        case.headers = {**case.headers, "Idempotency-Key": f"st-{next(_keys)}"}
    return case


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    return not (getattr(failure, "code", None) == "ST301" and str(getattr(failure, "free", "")).startswith("DELETE /basket/"))
