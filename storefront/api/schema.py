"""OpenAPI metadata for API v1, built from the error-code table so docs cannot drift."""

from django.conf import settings

from storefront.api.contract import CONTRACT_SETTINGS
from storefront.api.errors import ERROR_CODES
from toolkit.query import MAX_JSON_DEPTH

API_DESCRIPTION = "\n".join(
    [
        "Storefront API v1. JSON in, JSON out; carts and orders are addressed by "
        "unguessable tokens, so there is no login.",
        "",
        "## Errors",
        "",
        "Every error, on every endpoint, has one shape:",
        "",
        "```json",
        '{"error": {"code": "insufficient_stock", "message": "Only 2 left of Trail Runner.",'
        ' "details": {"available": {"SKU-1": 2}}}}',
        "```",
        "",
        "Match on `code`: it is stable. `message` is for people and may change. `details` "
        "holds structured context (for `invalid_request`, `details.fields` maps each "
        "field to its problems).",
        "",
        "## Limits",
        "",
        f"A request body is at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (413 "
        f"`payload_too_large`) and a JSON body nests objects and arrays at most "
        f"{MAX_JSON_DEPTH} deep (400 `json_too_deep`). Path segments are ASCII: a slug or "
        "token outside its pattern, or an id not written in the digits 0-9, names "
        "nothing (404 `not_found`).",
        "",
        "| code | meaning |",
        "|---|---|",
        *(f"| `{code}` | {meaning} |" for code, meaning in ERROR_CODES.items()),
    ]
)

# Served by /api/schema/; `manage.py spectacular` takes it with
# `--custom-settings storefront.api.schema.SCHEMA_SETTINGS`.
SCHEMA_SETTINGS = {"DESCRIPTION": API_DESCRIPTION, **CONTRACT_SETTINGS}
