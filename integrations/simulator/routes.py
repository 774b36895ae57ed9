"""What a simulated dependency is: a name, and routes that turn a request into a reply."""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: Mapping[str, str]  # named groups of the route pattern
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or None for an empty body

    @property
    def idempotency_key(self) -> str:
        return self.headers.get("idempotency-key", "")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Mapping[str, Any]
    # Seconds to sit on a finished reply before sending it: the upstream did the work but
    # the answer is lost to any client with a shorter timeout. Cut short if the client
    # goes away.
    hold_s: float = 0.0


Handler = Callable[[Request], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # a regular expression matched against the whole path
    handler: Handler
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))


class Dependency(Protocol):
    """A simulated upstream. Its routes live under `/<name>/`; its state in memory."""

    name: str

    def routes(self) -> list[Route]: ...

    def forget(self) -> None:
        """Drop everything recorded so far, as if freshly started."""


def error(status: int, code: str, message: str = "") -> Reply:
    """Answer with the error shape every simulated dependency shares."""
    body = {"error": code, "message": message} if message else {"error": code}
    return Reply(status, body)
