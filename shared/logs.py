"""Structured logs: one JSON object per line, with the order id and event type as fields."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator

import orjson

from shared.settings import Settings
from shared.tracing import TraceIdFilter

#: orjson writes datetimes and dataclasses itself; the json module wrote their ``str``.
_AS_JSON_MODULE_DOES = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                        | orjson.OPT_PASSTHROUGH_DATACLASS)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """A line per handled event: formatting is most of what a log line costs, so it does
    little (a timestamp's second is formatted once per second; orjson encodes in 0.4 µs what
    the json module took 3.9 for). A value JSON has no type for is written as its ``str``."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._second, self._second_text = -1, ""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self._time(record.created), "level": record.levelname,
                "service": self.service, "logger": record.name, "message": record.getMessage()}
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(line, default=str, option=_AS_JSON_MODULE_DOES).decode()
        except orjson.JSONEncodeError:  # an integer beyond 64 bits, say: the slow way
            return json.dumps(line, default=str)

    def _time(self, created: float) -> str:
        """ISO 8601 in UTC, to the millisecond: 2026-12-05T12:00:00.123+00:00."""
        second = int(created)
        micros = round((created - second) * 1e6)  # as datetime.fromtimestamp rounds
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{micros // 1000:03d}+00:00"


class TextFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__(f"%(asctime)s %(levelname)-7s {service} %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{key}={value}" for key, value in record.__dict__.items()
                          if key not in _STANDARD and not key.startswith("_"))
        return f"{super().format(record)} {extras}".rstrip()


class RepeatFilter(logging.Filter):
    """aiokafka logs every failed reconnect, thousands a second while a broker restarts:
    let one line per message through every ``window`` seconds and count the rest."""

    def __init__(self, prefix: str = "aiokafka", window: float = 10.0) -> None:
        super().__init__()
        self.prefix, self.window = prefix, window
        self._last: dict[tuple[str, object], float] = {}
        self._suppressed: dict[tuple[str, object], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefix):
            return True
        key = (record.name, record.msg)
        if record.created - self._last.get(key, 0.0) < self.window:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = record.created
        record.repeated = self._suppressed.pop(key, 0)
        return True


class LineHandler(logging.StreamHandler):
    """Writes each line as it comes (a StreamHandler), except inside :func:`one_write`."""

    _holding = threading.local()

    def flush(self) -> None:
        if not getattr(self._holding, "on", False):
            super().flush()


@contextlib.contextmanager
def one_write() -> Iterator[None]:
    """The lines logged inside go out together when it ends (one write, not one per line):
    a group commit's ``handled`` lines. Per thread; a line is never held past the block."""
    LineHandler._holding.on = True
    try:
        yield
    finally:
        LineHandler._holding.on = False
        for handler in logging.getLogger().handlers:
            handler.flush()


def configure_logging(settings: Settings) -> None:
    formatter = (JsonFormatter if settings.log_format == "json" else TextFormatter)(
        settings.service_name)
    handler = LineHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(RepeatFilter())
    handler.addFilter(TraceIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # A line per handled event: skip what no formatter here prints (the caller's file and
    # line, thread and process names), as the logging HOWTO's "Optimization" section shows.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root.setLevel(settings.log_level)
    # aiokafka logs every reconnect at ERROR; keep its warnings, drop its chatter.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
