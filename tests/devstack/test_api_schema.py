"""The committed OpenAPI schema matches the code, and breaking changes against it are caught."""

import copy

import pytest
import yaml
from django.core.management import CommandError, call_command

from devstack.management.commands import api_schema
from devstack.openapi_diff import breaking_changes

ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1.0.0"},
    "paths": {
        "/items/": {
            "get": {
                "parameters": [
                    {
                        "in": "query",
                        "name": "sort",
                        "schema": {"$ref": "#/components/schemas/Sort"},
                    },
                    {"in": "query", "name": "q", "schema": {"type": "string", "maxLength": 200}},
                ],
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}
                        }
                    },
                    "404": ERROR,
                },
            },
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ItemIn"}}
                    },
                    "required": True,
                },
                "responses": {"201": {"description": "created"}},
            },
        }
    },
    "components": {
        "schemas": {
            "Sort": {"type": "string", "enum": ["name", "newest"]},
            "Item": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "price": {"type": "string"}},
                "required": ["name", "price"],
            },
            "ItemIn": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 100},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 99},
                },
                "required": ["name"],
            },
            "Error": {"type": "object", "properties": {"error": {"type": "object"}}},
        }
    },
}


def _changed(edit) -> list[str]:
    new = copy.deepcopy(DOCUMENT)
    edit(new)
    return breaking_changes(DOCUMENT, new)


def _get(document):
    return document["paths"]["/items/"]["get"]


def _schemas(document):
    return document["components"]["schemas"]


def test_an_identical_document_has_no_breaking_change():
    assert breaking_changes(DOCUMENT, copy.deepcopy(DOCUMENT)) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["paths"].pop("/items/"), "GET /items/: operation removed"),
        (lambda d: d["paths"]["/items/"].pop("post"), "POST /items/: operation removed"),
        (lambda d: _get(d)["parameters"].pop(1), "query parameter `q` removed"),
        (lambda d: _get(d)["parameters"][1].update(required=True), "`q` is newly required"),
        (lambda d: _schemas(d)["Sort"].update(enum=["name"]), "no longer accepted: ['newest']"),
        (lambda d: _get(d)["parameters"][1]["schema"].update(maxLength=50), "maxLength 200 -> 50"),
        (lambda d: _get(d)["parameters"][1]["schema"].update(pattern="^a"), "pattern None -> '^a'"),
        (lambda d: _get(d)["parameters"][1]["schema"].update(type="integer"), "string -> integer"),
        (
            lambda d: _get(d)["parameters"].append(
                {"in": "header", "name": "X-Key", "required": True, "schema": {"type": "string"}}
            ),
            "header parameter `x-key` is newly required",
        ),
        (lambda d: _get(d)["responses"].pop("404"), "GET /items/: status 404 removed"),
        (
            lambda d: _schemas(d)["Item"]["properties"].pop("price"),
            "GET /items/ -> 200: property `price` removed",
        ),
        (
            lambda d: _schemas(d)["Item"]["properties"]["price"].update(type="number"),
            "GET /items/ -> 200.price: type string -> number",
        ),
        (
            lambda d: _schemas(d)["Item"]["properties"]["price"].update(nullable=True),
            "GET /items/ -> 200.price: may now be null",
        ),
        (
            lambda d: _schemas(d)["Item"].update(required=["name"]),
            "property `price` no longer always present",
        ),
        (
            lambda d: _schemas(d)["ItemIn"].update(required=["name", "quantity"]),
            "POST /items/: request body: property `quantity` is newly required",
        ),
        (
            lambda d: _schemas(d)["ItemIn"]["properties"]["quantity"].update(maximum=9),
            "request body.quantity: maximum 99 -> 9",
        ),
        (
            lambda d: _schemas(d)["ItemIn"].update(additionalProperties=False),
            "unknown properties no longer accepted",
        ),
    ],
    ids=[
        "path removed",
        "operation removed",
        "parameter removed",
        "parameter newly required",
        "enum narrowed",
        "shorter max length",
        "pattern added",
        "type changed",
        "new required header",
        "status removed",
        "response field removed",
        "response field retyped",
        "response field nullable",
        "response field optional",
        "new required body field",
        "smaller maximum",
        "unknown fields refused",
    ],
)
def test_a_breaking_change_is_reported(edit, expected):
    changes = _changed(edit)

    assert any(expected in change for change in changes), changes


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["paths"].update({"/other/": {"get": {"responses": {"200": {}}}}}),
        lambda d: _get(d)["parameters"].append(
            {"in": "query", "name": "page", "schema": {"type": "integer"}}
        ),
        lambda d: _schemas(d)["Sort"].update(enum=["name", "newest", "price"]),
        lambda d: _get(d)["parameters"][1]["schema"].update(maxLength=500),
        lambda d: _get(d)["responses"].update({"429": ERROR}),
        lambda d: _schemas(d)["Item"]["properties"].update(colour={"type": "string"}),
        lambda d: _schemas(d)["ItemIn"]["properties"]["quantity"].update(maximum=999),
    ],
    ids=[
        "new path",
        "new optional parameter",
        "enum widened",
        "longer max length",
        "new status",
        "new response field",
        "larger maximum",
    ],
)
def test_a_compatible_change_is_not_breaking(edit):
    assert _changed(edit) == []


def test_the_committed_schema_is_the_one_the_code_generates(db):
    # Fails after any API change: regenerate with `python manage.py api_schema --write`,
    # which refuses a breaking change unless info.version's major version changes.
    call_command("api_schema")


def test_a_drifted_schema_fails_with_the_command_to_regenerate(db, tmp_path, monkeypatch):
    committed = yaml.safe_load(api_schema.COMMITTED.read_text())
    committed["paths"]["/api/v1/retired/"] = {"get": {"responses": {"200": {}}}}
    stale = tmp_path / "openapi.yaml"
    stale.write_text(yaml.safe_dump(committed))
    monkeypatch.setattr(api_schema, "COMMITTED", stale)
    monkeypatch.setattr(api_schema, "BASE_DIR", tmp_path)

    with pytest.raises(CommandError, match="breaking change") as raised:
        call_command("api_schema", "--write")

    assert "python manage.py api_schema --write" in str(raised.value)
    assert "/api/v1/retired/" in stale.read_text()  # refused: the file is left as it was


def test_a_new_major_version_may_break(db, tmp_path, monkeypatch):
    committed = yaml.safe_load(api_schema.COMMITTED.read_text())
    committed["info"]["version"] = "0.9.0"
    committed["paths"]["/api/v1/retired/"] = {"get": {"responses": {"200": {}}}}
    stale = tmp_path / "openapi.yaml"
    stale.write_text(yaml.safe_dump(committed))
    monkeypatch.setattr(api_schema, "COMMITTED", stale)
    monkeypatch.setattr(api_schema, "BASE_DIR", tmp_path)

    call_command("api_schema", "--write")

    assert stale.read_text() == api_schema.generated_schema_text()
