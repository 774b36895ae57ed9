"""What storefront/api/contract.py states agrees with what the API enforces.

The live fuzzer (tests/devstack/test_api_contract.py) finds disagreements by chance; these
check each statement against the rule it states, over many generated values.
"""

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from checkout.interface import SHIPPING_METHODS
from storefront.api.contract import EMAIL_PATTERN, IDEMPOTENCY_KEY_SCHEMA, WHITESPACE
from storefront.api.serializers import OrderCreateSerializer

LATIN_1 = st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=300)


def _schema(api) -> dict:
    return api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def _key_accepted(key: str) -> bool:
    """checkout's rule for an Idempotency-Key (`checkout/idempotency.py`)."""
    stripped = key.strip()
    return bool(stripped) and len(stripped) <= 255 and stripped.isprintable()


@settings(max_examples=500)
@given(st.one_of(LATIN_1, st.from_regex(IDEMPOTENCY_KEY_SCHEMA["pattern"], fullmatch=True)))
def test_an_idempotency_key_the_schema_admits_is_one_checkout_accepts(key):
    if re.fullmatch(IDEMPOTENCY_KEY_SCHEMA["pattern"], key) and len(key) <= 255:
        assert _key_accepted(key)


# The order's email as the schema states it: the pattern and the field's maxLength.
EMAIL_MAX_LENGTH = OrderCreateSerializer().fields["email"].max_length


@settings(max_examples=300)
@given(st.one_of(st.emails(), st.from_regex(EMAIL_PATTERN, fullmatch=True), st.text()))
def test_an_email_the_schema_admits_is_one_django_accepts(email):
    # Both halves of the statement: a pattern alone admits addresses past Django's 320
    # characters (Hypothesis found one), which the schema's maxLength refuses.
    if re.fullmatch(EMAIL_PATTERN, email) and len(email) <= EMAIL_MAX_LENGTH:
        validate_email(email)  # raises if Django refuses it


def test_the_schema_bounds_an_email_within_what_django_accepts():
    assert EMAIL_MAX_LENGTH <= 320  # Django refuses longer addresses whatever their shape


@pytest.mark.parametrize("email", ["0@0.a", "a@b.00", "a..b@c.de", "a@-b.com", "a b@c.de"])
def test_emails_django_refuses_are_outside_the_schema(email):
    with pytest.raises(ValidationError):
        validate_email(email)
    assert not re.fullmatch(EMAIL_PATTERN, email)


def test_blank_optional_query_parameters_are_stated_as_not_given(api, db):
    parameters = {
        p["name"]: p for p in _schema(api)["paths"]["/api/v1/search/"]["get"]["parameters"]
    }

    assert parameters["sort"]["allowEmptyValue"] is True
    assert parameters["price_max"]["allowEmptyValue"] is True
    # A repeated parameter takes no blank value: `?brand=` is a 400.
    assert "allowEmptyValue" not in parameters["brand"]
    assert api.get("/api/v1/search/?sort=&price_max=&cursor=").status_code == 200
    assert api.get("/api/v1/search/?brand=").status_code == 400


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [
        ("0", True),
        ("12.5", True),
        (".5", True),
        ("9999999999.99", True),
        ("-1", False),
        ("1.234", False),
        ("12345678901", False),
        (".", False),
    ],
)
def test_a_price_filter_is_admitted_by_the_schema_exactly_when_the_api_takes_it(
    api, db, raw, accepted
):
    parameters = _schema(api)["paths"]["/api/v1/search/"]["get"]["parameters"]
    pattern = next(p for p in parameters if p["name"] == "price_max")["schema"]["pattern"]

    status = api.get("/api/v1/search/", {"price_max": raw}).status_code

    assert bool(re.fullmatch(pattern, raw)) is accepted
    assert (status == 200) is accepted


def test_strings_with_a_pattern_are_matched_as_sent(api, db):
    # " outdoor" fails the slug pattern the schema states, so the API refuses it too,
    # rather than trimming it first.
    assert api.get("/api/v1/search/", {"category": " outdoor"}).status_code == 400
    assert api.get("/api/v1/search/", {"attr": "colour: "}).status_code == 200


def test_the_schema_lists_the_shipping_methods_and_statuses_answered_before_the_views(api, db):
    schema = _schema(api)
    order = schema["components"]["schemas"]["OrderCreateRequest"]["properties"]
    place = schema["paths"]["/api/v1/orders/"]["post"]

    assert order["shipping_method"]["enum"] == sorted(SHIPPING_METHODS)
    assert place["responses"]["414"]["content"] == {"text/html": {"schema": {"type": "string"}}}
    assert "413" in place["responses"]
    assert "413" not in schema["paths"]["/api/v1/categories/"]["get"]["responses"]


def test_a_patch_needs_its_quantity(api, db):
    patch = _schema(api)["paths"]["/api/v1/carts/{token}/lines/{line_id}/"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"]

    assert patch["requestBody"]["required"] is True
    assert body.endswith("/CartLineUpdateRequest")


def test_the_whitespace_class_is_what_str_strip_removes():
    everything = (chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)
    assert {c for c in everything if re.fullmatch(WHITESPACE, c)} == {
        chr(code) for code in range(0x110000) if chr(code).isspace()
    }


def test_a_blank_text_of_any_whitespace_is_admitted_where_the_api_reads_it_as_blank(api, db):
    parameters = _schema(api)["paths"]["/api/v1/search/suggest/"]["get"]["parameters"]
    pattern = next(p for p in parameters if p["name"] == "q")["schema"]["oneOf"][0]["pattern"]

    for text, accepted in (("\x0c", True), ("\t \u3000", True), ("a\x0c", False)):
        assert bool(re.fullmatch(pattern, text)) is accepted
        assert (api.get("/api/v1/search/suggest/", {"q": text}).status_code == 200) is accepted
