"""The shape of what a namespace caches, fingerprinted into its keys.

During a deploy the old code and the new one serve side by side (gunicorn starts new
workers before the old ones finish) and share one cache. An entry is a pickled value:
if a release adds a field to a cached dataclass, the new code reads the old entry
without an error and fails later on the missing attribute (a 500), and the old code
reads the new entry the same way. Keys therefore carry a fingerprint of the cached
type's shape (`CacheSpec.shape`): the dataclass's module, name and fields with their
types, recursively, plus the spec's `shape_revision` for a change the types cannot show.
Each version of the code builds its own keys, so a value written by one is never read
by the other: a changed shape is a clean miss, recomputed under the namespace's single
flight one key at a time as it is next asked for, while every namespace whose shape did
not change keeps its entries across the deploy.

Why not a library: serialisers that version their schema (protobuf, avro, msgspec with
tagged structs) would need every cached type rewritten in their model; what is needed
here is only "the same type, field for field", which the type hints already say.
"""

import dataclasses
import hashlib
import types
import typing
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=256)
def shape_fingerprint(shape: Any, revision: int = 0) -> str:
    """Return 8 hex digits naming `shape` (a type or a typing expression) and `revision`.

    None (no declared shape) still fingerprints, so every key carries one; the registry
    test makes every store namespace declare its shape.
    """
    text = f"{shape_describe(shape)}#{revision}"
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def shape_describe(shape: Any) -> str:
    """Describe a type as its fingerprint sees it: names, fields and their types."""
    return _describe(shape, frozenset())


def _describe(shape: Any, seen: frozenset[str]) -> str:
    if shape is None or shape is type(None):
        return "None"
    origin = typing.get_origin(shape)
    if origin is not None:  # list[X], tuple[X, ...], X | None, Mapping[K, V], Page[T]
        if origin is types.UnionType:
            origin = typing.Union
        arguments = ",".join(
            "..." if argument is Ellipsis else _describe(argument, seen)
            for argument in typing.get_args(shape)
        )
        return f"{_describe(origin, seen)}[{arguments}]"
    if isinstance(shape, typing.TypeVar):
        return f"~{shape.__name__}"
    name = _qualified(shape)
    if not (isinstance(shape, type) and dataclasses.is_dataclass(shape)):
        return name
    if name in seen:  # a recursive type: its fields are described above
        return name
    hints = typing.get_type_hints(shape)
    fields = ",".join(
        f"{field.name}:{_describe(hints.get(field.name, field.type), seen | {name})}"
        for field in dataclasses.fields(shape)
    )
    return f"{name}({fields})"


def _qualified(shape: Any) -> str:
    module = getattr(shape, "__module__", None)
    qualname = getattr(shape, "__qualname__", None) or getattr(shape, "_name", None)
    return f"{module}.{qualname}" if module and qualname else repr(shape)
