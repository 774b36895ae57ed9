"""Breaking changes between two OpenAPI 3 documents, old (committed) to new (generated).

A change is breaking when a client written against the old document can fail against
the new one:

- a path or an operation is gone;
- an input is gone or newly required (a parameter, the body, a body property);
- an input is narrowed: another type, enum values gone, a tighter length, size, range
  or item count, a pattern added or changed, a nullable input no longer nullable;
- a documented status is gone;
- an output is changed under the client: a property gone or no longer required, another
  type or format, newly nullable.

Additions are never breaking: new paths, operations, optional inputs, statuses, output
properties. The rules are deliberately conservative: a change they cannot prove compatible
(a pattern rewritten, a oneOf reshaped) counts as breaking, since a false alarm costs a
look and a missed break costs a client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Schema = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Keywords whose growth (lower bounds) or shrinkage (upper bounds) narrows an input.
_LOWER_BOUNDS = ("minLength", "minimum", "minItems", "minProperties", "exclusiveMinimum")
_UPPER_BOUNDS = ("maxLength", "maximum", "maxItems", "maxProperties", "exclusiveMaximum")
_MAX_DEPTH = 32  # $ref chains deeper than this are compared no further


def major_version(document: Schema) -> str:
    return str(document.get("info", {}).get("version", "0")).split(".")[0]


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every breaking change from `old` to `new`, one readable line each."""
    return list(_document_changes(_Resolver(old), _Resolver(new)))


class _Resolver:
    """Follows local `$ref`s of one document."""

    def __init__(self, document: Schema) -> None:
        self.document = document

    def resolve(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < _MAX_DEPTH:
            target: Any = self.document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            extra = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**target, **extra} if extra else target
            seen += 1
        if isinstance(schema, dict) and len(schema.get("allOf", ())) == 1:
            # drf-spectacular's `allOf: [$ref], nullable: true` for a nullable object
            rest = {key: value for key, value in schema.items() if key != "allOf"}
            return {**self.resolve(schema["allOf"][0]), **rest}
        return schema


def _operations(document: Schema) -> Iterator[tuple[str, str, Schema]]:
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _document_changes(old: _Resolver, new: _Resolver) -> Iterator[str]:
    new_operations = {(path, method): op for path, method, op in _operations(new.document)}
    for path, method, old_operation in _operations(old.document):
        where = f"{method.upper()} {path}"
        new_operation = new_operations.get((path, method))
        if new_operation is None:
            yield f"{where}: operation removed"
            continue
        yield from _parameter_changes(old, new, where, old_operation, new_operation)
        yield from _body_changes(old, new, where, old_operation, new_operation)
        yield from _response_changes(old, new, where, old_operation, new_operation)


def _parameters(resolver: _Resolver, operation: Schema) -> dict[tuple[str, str], Schema]:
    parameters = (resolver.resolve(p) for p in operation.get("parameters", []))
    return {
        (p["in"], p["name"].lower() if p["in"] == "header" else p["name"]): p for p in parameters
    }


def _parameter_changes(
    old: _Resolver, new: _Resolver, where: str, old_operation: Schema, new_operation: Schema
) -> Iterator[str]:
    old_parameters = _parameters(old, old_operation)
    new_parameters = _parameters(new, new_operation)
    for key, now in new_parameters.items():
        if now.get("required") and not old_parameters.get(key, {}).get("required"):
            yield f"{where}: {key[0]} parameter `{key[1]}` is newly required"
    for key, was in old_parameters.items():
        name = f"{key[0]} parameter `{key[1]}`"
        if key not in new_parameters:
            yield f"{where}: {name} removed"
            continue
        now = new_parameters[key]
        if was.get("allowEmptyValue") and not now.get("allowEmptyValue"):
            yield f"{where}: {name} no longer takes an empty value"
        yield from _input_narrowed(
            old, new, f"{where}: {name}", was.get("schema", {}), now.get("schema", {})
        )


def _json_body(resolver: _Resolver, holder: Schema) -> Schema | None:
    content = resolver.resolve(holder).get("content", {})
    media = content.get("application/json")
    return None if media is None else media.get("schema", {})


def _body_changes(
    old: _Resolver, new: _Resolver, where: str, old_operation: Schema, new_operation: Schema
) -> Iterator[str]:
    old_body = old.resolve(old_operation.get("requestBody", {}))
    new_body = new.resolve(new_operation.get("requestBody", {}))
    if new_body.get("required") and not old_body.get("required"):
        yield f"{where}: the request body is newly required"
    if not old_body:
        return
    if not new_body:
        yield f"{where}: the request body is no longer read"
        return
    for media in old_body.get("content", {}):
        if media not in new_body.get("content", {}):
            yield f"{where}: request body `{media}` no longer accepted"
    old_schema, new_schema = _json_body(old, old_body), _json_body(new, new_body)
    if old_schema is not None and new_schema is not None:
        yield from _input_narrowed(old, new, f"{where}: request body", old_schema, new_schema)


def _input_narrowed(
    old: _Resolver, new: _Resolver, where: str, was: Any, now: Any, depth: int = 0
) -> Iterator[str]:
    """What a value valid against `was` may fail against `now`."""
    was, now = old.resolve(was), new.resolve(now)
    if depth > _MAX_DEPTH or not isinstance(was, dict) or not isinstance(now, dict):
        return
    if was.get("type") != now.get("type") and now.get("type") is not None:
        yield f"{where}: type {was.get('type')} -> {now.get('type')}"
        return
    if "enum" in now and "enum" not in was:
        yield f"{where}: now limited to {now['enum']}"
    elif "enum" in now and (gone := [value for value in was["enum"] if value not in now["enum"]]):
        yield f"{where}: values no longer accepted: {gone}"
    for keyword in _LOWER_BOUNDS:
        if keyword in now and (keyword not in was or now[keyword] > was[keyword]):
            yield f"{where}: {keyword} {was.get(keyword)} -> {now[keyword]}"
    for keyword in _UPPER_BOUNDS:
        if keyword in now and (keyword not in was or now[keyword] < was[keyword]):
            yield f"{where}: {keyword} {was.get(keyword)} -> {now[keyword]}"
    for keyword in ("pattern", "format", "not", "oneOf", "anyOf", "multipleOf"):
        if keyword in now and now[keyword] != was.get(keyword):
            yield f"{where}: {keyword} {was.get(keyword)!r} -> {now[keyword]!r}"
    if was.get("nullable") and not now.get("nullable"):
        yield f"{where}: null no longer accepted"
    if "items" in was and "items" in now:
        yield from _input_narrowed(old, new, f"{where}[]", was["items"], now["items"], depth + 1)
    yield from _properties_narrowed(old, new, where, was, now, depth)


def _properties_narrowed(
    old: _Resolver, new: _Resolver, where: str, was: Schema, now: Schema, depth: int
) -> Iterator[str]:
    was_required, now_required = set(was.get("required", ())), set(now.get("required", ()))
    for name in sorted(now_required - was_required):
        yield f"{where}: property `{name}` is newly required"
    was_properties, now_properties = was.get("properties", {}), now.get("properties", {})
    for name, schema in was_properties.items():
        if name not in now_properties:
            yield f"{where}: property `{name}` removed"
        else:
            yield from _input_narrowed(
                old, new, f"{where}.{name}", schema, now_properties[name], depth + 1
            )
    if was.get("additionalProperties", True) is not False and (
        now.get("additionalProperties", True) is False
    ):
        yield f"{where}: unknown properties no longer accepted"


def _response_changes(
    old: _Resolver, new: _Resolver, where: str, old_operation: Schema, new_operation: Schema
) -> Iterator[str]:
    new_responses = new_operation.get("responses", {})
    for status, old_response in old_operation.get("responses", {}).items():
        if status not in new_responses:
            yield f"{where}: status {status} removed"
            continue
        old_schema = _json_body(old, old_response)
        new_schema = _json_body(new, new_responses[status])
        if old_schema is not None and new_schema is None:
            yield f"{where}: status {status} no longer answers JSON"
        elif old_schema is not None:
            yield from _output_changed(old, new, f"{where} -> {status}", old_schema, new_schema)


def _output_changed(
    old: _Resolver, new: _Resolver, where: str, was: Any, now: Any, depth: int = 0
) -> Iterator[str]:
    """What a client reading a value shaped like `was` may trip over in `now`."""
    was, now = old.resolve(was), new.resolve(now)
    if depth > _MAX_DEPTH or not isinstance(was, dict) or not isinstance(now, dict):
        return
    for keyword in ("type", "format"):
        if was.get(keyword) != now.get(keyword):
            yield f"{where}: {keyword} {was.get(keyword)} -> {now.get(keyword)}"
            return
    if now.get("nullable") and not was.get("nullable"):
        yield f"{where}: may now be null"
    if "items" in was and "items" in now:
        yield from _output_changed(old, new, f"{where}[]", was["items"], now["items"], depth + 1)
    now_properties = now.get("properties", {})
    now_required = set(now.get("required", ()))
    for name, schema in was.get("properties", {}).items():
        if name not in now_properties:
            yield f"{where}: property `{name}` removed"
            continue
        if name in was.get("required", ()) and name not in now_required:
            yield f"{where}: property `{name}` no longer always present"
        yield from _output_changed(
            old, new, f"{where}.{name}", schema, now_properties[name], depth + 1
        )
