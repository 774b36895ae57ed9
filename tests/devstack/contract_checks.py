"""schemathesis hooks of our own, loaded with SCHEMATHESIS_HOOKS beside `--checks all`.

- A check: schemathesis.toml lets a few operations answer schema-valid data with 400, for
  business rules no schema can state. The check keeps that exception narrow: a 400 on
  schema-valid data must name such a rule, never a malformed request, which would mean
  the API enforces a constraint the schema does not state.
- A filter: a negative case that puts one scalar where a repeated query parameter is
  declared (`?brand=false` for an array of slugs) is not negative on the wire: a server
  reads it as a one-item array, and `["false"]` is valid. Such cases are not generated.
- Each request is a shopper of its own (the stack's `PEAKSTORE_LOADGEN_KEY`, as for the
  other stack tests): all come from 127.0.0.1, and the per-client throttles (tested in
  tests/storefront/test_throttling.py) would otherwise answer most cart writes with 429
  and leave the logic behind them unfuzzed.
"""

import json
import uuid

import jsonschema
import schemathesis

from loadtests.identity import client_headers

MALFORMED_REQUEST_CODES = frozenset({"invalid_request", "malformed_json", "json_too_deep"})


@schemathesis.check
def valid_data_rejected_only_by_business_rules(ctx, response, case) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    if code is None or code in MALFORMED_REQUEST_CODES:
        raise AssertionError(
            f"Schema-valid request rejected as malformed ({code}): the API enforces a "
            f"constraint the schema does not state.\n{response.text[:500]}"
        )


def _reads_as_valid_array(value: object, schema: dict) -> bool:
    text = json.dumps(value) if isinstance(value, bool) else str(value)
    return jsonschema.Draft4Validator(schema).is_valid([text])


@schemathesis.hook
def filter_query(ctx, query) -> bool:
    if ctx.operation is None or not query:
        return True
    for parameter in ctx.operation.query:
        schema = parameter.definition.get("schema", {})
        value = query.get(parameter.name)
        scalar = value is not None and not isinstance(value, list)
        if schema.get("type") == "array" and scalar and _reads_as_valid_array(value, schema):
            return False
    return True


@schemathesis.hook
def before_call(ctx, case, kwargs) -> None:
    case.headers = {**(case.headers or {}), **client_headers(uuid.uuid4().hex)}
