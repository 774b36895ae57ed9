"""A schemathesis check of our own, loaded with SCHEMATHESIS_HOOKS beside `--checks all`.

schemathesis.toml lets a few operations answer schema-valid data with 400, for business
rules no schema can state. This check keeps that exception narrow: a 400 on schema-valid
data must name such a rule, never a malformed request, which would mean the API enforces
a constraint the schema does not state.
"""

import json

import schemathesis

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
