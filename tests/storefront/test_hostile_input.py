"""A hostile-input corpus against every page and endpoint: never a 5xx.

Generated, not listed, so a new route, parameter or field is covered without editing this
file:
- paths from walking the URL configuration, each path converter filled with each
  hostile value in turn;
- the API's query parameters, headers and JSON body fields from its OpenAPI schema
  (drf-spectacular's generator), each replaced in an otherwise valid request;
- the pages' query parameters from what each view declares (`toolkit.query`), and the
  fields of the forms they post;
- bodies past the size cap, nested past the depth limit or of the wrong JSON type, and
  the headers and cookies the store reads.

Every answer must be below 500; an API error must be in the documented shape with a
documented code, and a value no field accepts (a NUL, control characters, 10,000
characters, a JSON value of the wrong type) must be refused with a 4xx.
"""

import copy
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from drf_spectacular.generators import SchemaGenerator

from checkout.models import Order
from storefront.api.errors import ERROR_CODES
from storefront.api.schema import SCHEMA_SETTINGS
from storefront.pages.forms import AddToCartForm, CheckoutForm, CouponForm, LineQuantityForm
from tests.factories import CartFactory, CartLineFactory
from tests.storefront.conftest import CHECKOUT_FIELDS
from toolkit.cache.http import page_cache_policy
from toolkit.query import MAX_JSON_DEPTH

# Text no field accepts, wherever it arrives.
INVALID_TEXT = {
    "NUL": "1\x00",
    "control characters": "1\x01\x1b[2J",
    "header injection": "1\r\nX-Injected: yes",
    "overlong": "9" * 10_000,
}
# Text some fields accept (a search for "²" is a search) and others refuse.
ODD_TEXT = {
    "superscript digit": "²",
    "arabic-indic digits": "١٢",
    "full-width digit": "\uff11",
    "huge number": "9" * 40,
    "negative": "-1",
    "float": "1.5",
    "exponent": "1e308",
    "not a number": "NaN",
    "impossible date": "2024-13-45T25:61:00",
    "forged token": "A" * 32,
    "forged cursor": "eyJrIjpbMV19:1tZ9Xv:forged-signature-AAAAAAAAAAAAAAAAAAAAAAAA",
    "empty": "",
}
HOSTILE_TEXT = {**INVALID_TEXT, **ODD_TEXT}
# JSON values of the wrong type for every field the API reads (strings and integers).
WRONG_JSON = {
    "null": None,
    "boolean": True,
    "list": [1],
    "object": {"a": 1},
    "huge integer": 10**30,
    "float": 1.5,
    "negative": -1,
}

BACKOFFICE_TOKEN = "hostile-corpus"
CORPUS_AUTH = {"HTTP_AUTHORIZATION": f"Bearer {BACKOFFICE_TOKEN}"}

# Path segments and field values that name real things, so one hostile value at a time
# reaches the code behind the others.
Fixtures = dict[str, Any]


@pytest.fixture
def fixtures(db, product, sku, settings) -> Fixtures:
    # The back office answers only its bearer: the corpus carries it (CORPUS_AUTH).
    settings.STOREFRONT_BACKOFFICE_TOKEN = BACKOFFICE_TOKEN
    # The corpus sends hundreds of writes from one client: throttling is not under test.
    for scope in getattr(settings, "STOREFRONT_THROTTLE_RATES", {}):
        settings.STOREFRONT_THROTTLE_RATES = {
            **settings.STOREFRONT_THROTTLE_RATES,
            scope: "100000/m",
        }
    cart = CartFactory()
    line = CartLineFactory(cart=cart, variant=product.variants.get(), quantity=1)
    order = Order.objects.first()
    return {
        "slug": product.slug,
        "token": cart.token,
        "line_id": line.pk,
        "number": order.number if order else "PS-0000000000",
        "section": "products",
        "sku": sku,
        "cart": cart.token,
    }


# --- what the corpus sends and what it accepts back ---------------------------------


def _request(client: Client, method: str, url: str, **kwargs: Any):
    response = getattr(client, method.lower())(url, **kwargs)
    return response


def _problems(method: str, url: str, response, *, must_refuse: bool) -> list[str]:
    """What is wrong with an answer: a 5xx, an API error out of shape, an accepted value."""
    where = f"{method} {url[:120]!r} -> {response.status_code}"
    if response.status_code >= 500:
        return [where]
    problems = []
    # The operations' answers; the schema document and its viewer are not JSON operations.
    if url.startswith("/api/v1/") and response.status_code >= 400:
        try:
            body = json.loads(response.content)
        except ValueError:
            return [f"{where}: not JSON"]
        error = body.get("error") if isinstance(body, dict) else None
        if not (
            isinstance(error, dict)
            and set(error) == {"code", "message", "details"}
            and error["code"] in ERROR_CODES
        ):
            problems.append(f"{where}: not the error shape: {body!r:.200}")
    if must_refuse and not 400 <= response.status_code < 500:
        problems.append(f"{where}: accepted a value no field accepts")
    return problems


# --- paths: every route of the URL configuration ------------------------------------

_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    """Every `path()` route as one string, with the pattern it ends in."""
    for entry in resolver.url_patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue  # re_path: the API's catch-all and admin's app index, reached below
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route)
        else:
            yield route, entry


ROUTES = sorted(
    dict(_routes(get_resolver())).items(),
    key=lambda item: item[0],
)
PARAMETERISED = [(route, pattern) for route, pattern in ROUTES if _PARAMETER.search(route)]


def _fill(route: str, values: dict[str, str]) -> str:
    return "/" + _PARAMETER.sub(lambda m: quote(str(values[m.group("name")]), safe=""), route)


@pytest.mark.parametrize(("route", "pattern"), PARAMETERISED, ids=[r for r, _ in PARAMETERISED])
def test_every_path_converter_refuses_hostile_segments(route, pattern, fixtures):
    client = Client(**CORPUS_AUTH)
    names = [match.group("name") for match in _PARAMETER.finditer(route)]
    benign = {name: fixtures.get(name, "1") for name in names}
    problems = []
    for name in names:
        for value in HOSTILE_TEXT.values():
            url = _fill(route, {**benign, name: value})
            for method in ("get", "post", "put"):
                response = _request(client, method, url)
                # Nothing hostile names a thing: a 404 or 405 (or admin's login redirect).
                problems += _problems(method, url, response, must_refuse=False)
                if not 300 <= response.status_code < 500:
                    problems.append(f"{method} {url[:120]!r} -> {response.status_code}")
    assert not problems, "\n".join(problems)


# --- the pages' query parameters, headers and cookies ---------------------------------

# Parameters views read without declaring them (a token link, a timeline's start), sent
# together; the declared ones (toolkit.query) one at a time.
UNDECLARED_PARAMETERS = ("page", "p", "q", "sort", "cursor", "token", "since", "brand", "next")
COOKIES = ("peakstore_cart", "sessionid", "csrftoken", "peakstore_cohort")
SITE_ROUTES = [(route, pattern) for route, pattern in ROUTES if not route.startswith("admin/")]


def _declared(pattern: URLPattern) -> tuple[str, ...]:
    policy = page_cache_policy(pattern.callback)
    return tuple(param.name for param in policy.query.params) if policy else ()


def _wire(value: str) -> str:
    """A header as a WSGI server hands it over: its UTF-8 bytes read as latin-1."""
    return value.encode().decode("latin-1")


@pytest.mark.parametrize(("route", "pattern"), SITE_ROUTES, ids=[r for r, _ in SITE_ROUTES])
def test_every_route_survives_hostile_queries_headers_and_cookies(
    route, pattern, fixtures, admin_client
):
    url = _fill(
        route, {m["name"]: fixtures.get(m["name"], "1") for m in _PARAMETER.finditer(route)}
    )
    client = Client()
    if client.get(url).status_code == 302:  # staff only: the login redirect reads nothing
        client = admin_client
    problems = []
    for value in HOSTILE_TEXT.values():
        queries = [{name: value} for name in _declared(pattern)]
        queries.append(dict.fromkeys(UNDECLARED_PARAMETERS, value))
        for query in queries:
            target = f"{url}?{urlencode(query)}"
            problems += _problems("GET", target, client.get(target), must_refuse=False)
        headers = {
            header: _wire(value)
            for header in (
                "HTTP_X_REQUEST_ID",
                "HTTP_IF_NONE_MATCH",
                "HTTP_ACCEPT",
                "HTTP_X_FORWARDED_FOR",
                "HTTP_X_ORDER_TOKEN",
            )
        }
        cookies = "; ".join(f"{name}={_wire(value)}" for name in COOKIES)
        jar = copy.copy(client.cookies)  # a forged session cookie must not log staff out
        response = client.get(url, **headers, HTTP_COOKIE=cookies)
        client.cookies = jar
        problems += _problems(f"GET {value[:20]!r} in headers", url, response, must_refuse=False)
    response = client.post(url, CONTENT_LENGTH="not a number")
    problems += _problems("POST Content-Length: not a number", url, response, must_refuse=False)
    assert not problems, "\n".join(problems)


# --- the pages' forms -----------------------------------------------------------------

FORMS = {
    "/cart/add/": AddToCartForm,
    "/cart/lines/{line_id}/": LineQuantityForm,
    "/cart/coupon/": CouponForm,
    "/checkout/": CheckoutForm,
}


@pytest.mark.parametrize(("path", "form"), FORMS.items(), ids=list(FORMS))
def test_every_form_field_survives_hostile_values(path, form, fixtures):
    client = Client()
    client.cookies["peakstore_cart"] = fixtures["token"]
    url = path.format(**fixtures)
    valid = {**CHECKOUT_FIELDS, "sku": fixtures["sku"], "quantity": "1", "code": ""}
    baseline = {name: valid.get(name, "") for name in form.base_fields}
    problems = []
    for field in form.base_fields:
        for value in HOSTILE_TEXT.values():
            data = {**baseline, field: value, "idempotency_key": str(uuid.uuid4())}
            response = client.post(url, data)
            problems += _problems(
                "POST", f"{url} {field}={value[:20]!r}", response, must_refuse=False
            )
    assert not problems, "\n".join(problems)


# --- the API, from its schema ---------------------------------------------------------


def _schema() -> dict:
    generator = SchemaGenerator()
    from drf_spectacular.settings import patched_settings

    with patched_settings(SCHEMA_SETTINGS):
        return generator.get_schema(request=None, public=True)


SCHEMA = _schema()
OPERATIONS = [
    (path, method, operation)
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
]


def _component(schema: dict) -> dict:
    if "$ref" in schema:
        return SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _example(name: str, schema: dict, fixtures: Fixtures) -> Any:
    """A valid value for a body field: a fixture by name, else one its schema allows."""
    schema = _component(schema)
    if name in fixtures:
        return fixtures[name]
    if schema.get("type") == "object":
        return {prop: _example(prop, sub, fixtures) for prop, sub in schema["properties"].items()}
    if schema.get("type") == "integer":
        return max(schema.get("minimum", 1), 1)
    if schema.get("format") == "email":
        return "ada@example.com"
    return {"country": "DE", "payment_token": "tok_ok", "shipping_method": "standard"}.get(
        name, "x"
    )


def _field_paths(schema: dict, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    schema = _component(schema)
    for prop, sub in schema.get("properties", {}).items():
        yield (*prefix, prop)
        if _component(sub).get("type") == "object":
            yield from _field_paths(sub, (*prefix, prop))


def _with(body: dict, path: tuple[str, ...], value: Any) -> dict:
    copy = json.loads(json.dumps(body))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def _api_call(client: Client, method: str, url: str, body: Any = None, **headers: str):
    extra = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4()), **headers}
    if body is None:
        return _request(client, method, url, **extra)
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return _request(client, method, url, data=data, content_type="application/json", **extra)


@pytest.mark.parametrize(
    ("path", "method", "operation"),
    OPERATIONS,
    ids=[f"{method.upper()} {path}" for path, method, _ in OPERATIONS],
)
def test_every_api_input_survives_hostile_values(path, method, operation, fixtures):
    client = Client()
    url = re.sub(r"\{(\w+)\}", lambda m: quote(str(fixtures[m.group(1)]), safe=""), path)
    problems = []

    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            continue  # the URL walk above covers path segments
        for label, value in HOSTILE_TEXT.items():
            must_refuse = label in INVALID_TEXT or (
                parameter["schema"].get("type") == "integer" and value != ""
            )
            if parameter["in"] == "query":
                target = f"{url}?{urlencode({parameter['name']: value})}"
                response = _api_call(client, method, target)
            else:
                header = "HTTP_" + parameter["name"].upper().replace("-", "_")
                target = f"{url} {parameter['name']}: {value[:20]!r}"
                response = _api_call(client, method, url, **{header: _wire(value)})
            problems += _problems(method, target, response, must_refuse=must_refuse)

    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None:
        body = _example("", content["schema"], fixtures)
        for field in _field_paths(content["schema"]):
            values = [(True, v) for v in WRONG_JSON.values()]
            values += [(label in INVALID_TEXT, v) for label, v in HOSTILE_TEXT.items()]
            for must_refuse, value in values:
                response = _api_call(client, method, url, _with(body, field, value))
                target = f"{url} {'.'.join(field)}={value!r:.20}"
                problems += _problems(method, target, response, must_refuse=must_refuse)
        whole_bodies = {
            "too deep": "[" * 5_000 + "]" * 5_000,
            "just too deep": json.dumps(_nested(MAX_JSON_DEPTH + 1)),
            "too large": json.dumps({**body, "padding": "x" * 3_000_000}),
            "not JSON": "{",
            "a list": [body],
            "null": "null",
            "a string": '"x"',
            "lone surrogate": '{"sku": "\\ud800", "code": "\\ud800", "cart": "\\ud800"}',
            "NaN": '{"quantity": NaN}',
        }
        for label, whole in whole_bodies.items():
            response = _api_call(client, method, url, whole)
            problems += _problems(method, f"{url} body {label}", response, must_refuse=True)
        response = _request(
            client, method, url, data="quantity=1", content_type="application/x-www-form-urlencoded"
        )
        problems += _problems(method, f"{url} form body", response, must_refuse=True)

    assert not problems, "\n".join(problems)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value
