"""One JSON object per log line, so the log can be searched by field (request id first).

A small formatter rather than a dependency: time, level, logger, message, process and
the request id, then whatever the call passed in `extra=`, then the traceback if any.
Message and fields are cut at `MAX_FIELD` characters: they often carry what a visitor
sent (Django logs every 4xx with its request line), and a 5,000-character query must
not become a 5,000-character log line.
"""

import json
import logging
from datetime import UTC, datetime

MAX_FIELD = 1_000

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "trace_id",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": _bounded(record.getMessage()),
            "process": record.process,
        }
        if request_id := getattr(record, "request_id", ""):
            entry["request_id"] = request_id
        if trace_id := getattr(record, "trace_id", ""):
            entry["trace_id"] = trace_id
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = _bounded(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _bounded(value: object) -> object:
    """The value as JSON will show it, cut at MAX_FIELD characters if it is text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    if len(text) <= MAX_FIELD:
        return value if isinstance(value, str | list | dict | tuple) else text
    return f"{text[:MAX_FIELD]}... ({len(text):,} characters)"
