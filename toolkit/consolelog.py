"""A log a person reads in a terminal: one short line per record, coloured on a TTY.

The JSON formatter (`toolkit.jsonlog`) is for log shippers; this one is for `make run`.
A request (the access log, `toolkit.accesslog`) is one line:

    12:04:31 GET /c/outdoor/ 200 14 ms 7 sql miss
    12:04:31 GET /c/outdoor/ 200 2 ms 0 sql hit
    12:04:32 GET /search/?q=tent 503 0 ms 0 sql shed:browse
    12:04:33 +3,182 requests not shown: 3,170 hit, 12 miss

(the last one sums up a busy second's requests past the access log's budget of lines).

Anything else is time, level, logger and message, with the request id when there is
one. Colour (status and level) only when the stream is a terminal and `NO_COLOR` is
unset (no-color.org), so a log file never holds escape codes.
"""

import logging
import os
import sys
from datetime import datetime
from typing import IO

ACCESS_LOGGER = "peakstore.access"
_RESET = "\033[0m"
_COLOURS = {"red": "\033[31m", "green": "\033[32m", "yellow": "\033[33m", "dim": "\033[2m"}
_LEVEL_COLOURS = {"WARNING": "yellow", "ERROR": "red", "CRITICAL": "red", "DEBUG": "dim"}


def _status_colour(status: int) -> str:
    return "red" if status >= 500 else "yellow" if status >= 400 else "green"


class ConsoleFormatter(logging.Formatter):
    """Format a record as one short, human line (see the module docstring)."""

    def __init__(self, *, stream: IO[str] | None = None, colour: bool | None = None) -> None:
        super().__init__()
        # The handler writes to stderr by default: colour follows whether it is a TTY.
        target = stream if stream is not None else sys.stderr
        self.colour = (
            colour if colour is not None else (target.isatty() and "NO_COLOR" not in os.environ)
        )
        self._clock_second = -1
        self._clock_text = ""

    def _paint(self, text: str, colour: str | None) -> str:
        return f"{_COLOURS[colour]}{text}{_RESET}" if self.colour and colour else text

    def _clock(self, created: float) -> str:
        # One strftime a second, not one a line: a busy stack logs thousands a second.
        second = int(created)
        if second != self._clock_second:
            self._clock_second = second
            self._clock_text = self._paint(
                datetime.fromtimestamp(second).strftime("%H:%M:%S"), "dim"
            )
        return self._clock_text

    def format(self, record: logging.LogRecord) -> str:
        clock = self._clock(record.created)
        if record.name == ACCESS_LOGGER:
            if hasattr(record, "status"):
                return f"{clock} {self._request(record)}"
            if held := getattr(record, "held", None):
                return f"{clock} {self._held(held)}"
        level = self._paint(record.levelname, _LEVEL_COLOURS.get(record.levelname))
        request_id = getattr(record, "request_id", "")
        tail = self._paint(f" [{request_id[:8]}]", "dim") if request_id else ""
        line = f"{clock} {level} {record.name}: {record.getMessage()}{tail}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line

    def _held(self, held: dict[str, int]) -> str:
        outcomes = ", ".join(f"{count:,} {outcome}" for outcome, count in held.items())
        return self._paint(f"+{sum(held.values()):,} requests not shown: {outcomes}", "dim")

    def _request(self, record: logging.LogRecord) -> str:
        status = int(getattr(record, "status", 0))
        parts = [
            str(getattr(record, "method", "")),
            str(getattr(record, "path", "")),
            self._paint(str(status), _status_colour(status)),
            f"{getattr(record, 'duration_ms', 0):.0f} ms",
        ]
        if (queries := getattr(record, "queries", None)) is not None:
            parts.append(f"{queries} sql")
        if page_cache := getattr(record, "page_cache", ""):
            parts.append(self._paint(page_cache, "green" if page_cache == "hit" else None))
        if shed := getattr(record, "shed", ""):
            parts.append(self._paint(f"shed:{shed}", "yellow"))
        return " ".join(parts)
