"""What the OpenAPI schema states beyond what drf-spectacular infers from the views.

The schema is the API's contract, and schemathesis holds the live API to it
(`tests/devstack/test_api_contract.py`): every constraint the API enforces and every
status it answers with must be in the schema, or the fuzzer reports a valid request
rejected or an invalid one accepted. drf-spectacular states what serializers declare;
this module states the rest, in one place:

- a blank optional query parameter (`?sort=`) means "not given" (DRF and
  `toolkit.pagination` read it so): `allowEmptyValue`; repeated ones (`brand`) take no
  blank value;
- what the strict string fields refuse (`storefront.api.serializers`: every input string
  is read by a `toolkit.query` parser): control characters, and for a token anything
  outside printable ASCII; a required string must hold more than whitespace;
- the addresses Django's email validator takes;
- a decimal's bounds (`price_max` is never negative): drf-spectacular writes a decimal
  as a string whose pattern ignores `min_value`;
- `Idempotency-Key`'s rules (checkout's idempotency: printable, at most 255 characters,
  not blank);
- statuses answered before any view: 414 from gunicorn (a request line over 4094 bytes,
  as HTML) and 413 for a body over the size cap (in the error shape);
- choices a domain service checks, as enums (`shipping_method`: 400
  `unknown_shipping_method` for anything else);
- a PATCH that needs its fields (not a partial update): `COMPONENT_SPLIT_PATCH` off.
"""

from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from checkout.interface import SHIPPING_METHODS

# checkout's rule (`checkout/idempotency.py`): stripped, not blank, printable, <= 255.
# Header values are Latin-1 on the wire; these are its printable characters.
_PRINTABLE = r"!-~\u00a1-\u00ac\u00ae-\u00ff"
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": rf"^[{_PRINTABLE}](?:[ {_PRINTABLE}]*[{_PRINTABLE}])?$",
}
HEADER_SCHEMAS = {"Idempotency-Key": IDEMPOTENCY_KEY_SCHEMA}

ERROR_REF = {"$ref": "#/components/schemas/Error"}
# Answered by gunicorn (`limit_request_line`), before the store sees the request.
URI_TOO_LONG = {
    "description": "The request line (method, path and query) is over 4094 bytes; "
    "answered by the HTTP server, as an HTML page.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}
PAYLOAD_TOO_LARGE = {
    "description": "Error code: `payload_too_large`. The body is over the size cap.",
    "content": {"application/json": {"schema": ERROR_REF}},
}


# Addresses Django's EmailValidator accepts, as JSON Schema's `email` format does not
# (it takes `a@b.c` and `a@b.00`; Django wants a top-level domain of 2-63 letters): dot-atom local
# parts and ASCII domain names. Quoted local parts, address literals and `localhost`,
# which Django accepts too, are left out of the contract.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TOP_LEVEL = r"[A-Za-z](?:[A-Za-z-]{0,61}[A-Za-z])"
EMAIL_PATTERN = rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*\.{_TOP_LEVEL}$"

# What each toolkit.query parser a strict string field reads with lets through.
CONTROL_FREE = r"[^\x00-\x1f\x7f]"
PARSER_CHARACTERS = {"printable": CONTROL_FREE, "token": r"[ -~]"}
# What `str.strip()` removes: a trimmed field that holds only these is blank, whatever
# else its parser refuses (spelled out: `\s` differs between regex engines).
WHITESPACE = r"[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# Inside those, what DRF's whitespace trimming leaves non-blank.
PARSER_VISIBLE = {"printable": r"[^\s\x00-\x1f\x7f]", "token": r"[!-~]"}


class StrictStringFieldExtension(OpenApiSerializerFieldExtension):
    """State what a strict string's parser refuses, beside its type and length."""

    target_class = "storefront.api.serializers._StrictString"
    match_subclasses = True
    optional = True  # absent while the serializers have no strict strings

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer_field(
            self.target, direction, bypass_extensions=True
        )
        parser = getattr(self.target, "parse", None)
        kind = getattr(parser, "__qualname__", "").split(".")[0]
        if direction != "request" or kind not in PARSER_CHARACTERS:
            return schema
        allowed, visible = PARSER_CHARACTERS[kind], PARSER_VISIBLE[kind]
        if isinstance(self.target, serializers.EmailField):
            schema["pattern"] = EMAIL_PATTERN
        elif any(isinstance(v, RegexValidator) for v in self.target.validators):
            # A slug or a regex states its pattern (added after this, from the validator);
            # say besides that control characters are refused.
            schema["not"] = {"pattern": r"[\x00-\x1f\x7f]"}
        elif self.target.allow_blank and self.target.trim_whitespace:
            schema["pattern"] = f"^(?:{WHITESPACE}*|{allowed}*)$"
        elif self.target.allow_blank:
            schema["pattern"] = f"^{allowed}*$"
        else:
            schema["pattern"] = f"^{allowed}*{visible}{allowed}*$"
        return schema


class BoundedDecimalFieldExtension(OpenApiSerializerFieldExtension):
    """A decimal input's pattern follows its digits and sign: no `-` when min_value >= 0."""

    target_class = serializers.DecimalField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer_field(
            self.target, direction, bypass_extensions=True
        )
        field = self.target
        if schema.get("type") != "string" or field.max_digits is None:
            return schema
        places = field.decimal_places or 0
        whole = field.max_digits - places
        sign = "" if field.min_value is not None and field.min_value >= Decimal(0) else "-?"
        fraction = rf"(?:\.\d{{0,{places}}})?" if places else ""
        only_fraction = rf"|\.\d{{1,{places}}}" if places else ""
        schema["pattern"] = rf"^{sign}(?:\d{{1,{whole}}}{fraction}{only_fraction})$"
        return schema


# Request properties whose choices a service checks: (component, property) -> choices.
REQUEST_CHOICES = {("OrderCreateRequest", "shipping_method"): sorted(SHIPPING_METHODS)}


def contract_postprocess(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Add to every operation what the views cannot declare (see the module docstring)."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                _parameter_complete(parameter)
            responses = operation.setdefault("responses", {})
            responses.setdefault("414", URI_TOO_LONG)
            if "requestBody" in operation:
                responses.setdefault("413", PAYLOAD_TOO_LARGE)
    components = result.get("components", {}).get("schemas", {})
    for (component, name), choices in REQUEST_CHOICES.items():
        if name in components.get(component, {}).get("properties", {}):
            components[component]["properties"][name]["enum"] = choices
    return result


def _parameter_complete(parameter: dict[str, Any]) -> None:
    if parameter["in"] == "header" and parameter["name"] in HEADER_SCHEMAS:
        parameter["schema"] = dict(HEADER_SCHEMAS[parameter["name"]])
    optional_scalar = not parameter.get("required") and (
        parameter.get("schema", {}).get("type") != "array"
    )
    if parameter["in"] == "query" and optional_scalar:
        parameter["allowEmptyValue"] = True


CONTRACT_SETTINGS = {
    # Our PATCH endpoints change one field and need it: no "Patched" all-optional copy.
    "COMPONENT_SPLIT_PATCH": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "storefront.api.contract.contract_postprocess",
    ],
}
