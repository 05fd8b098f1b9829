"""Structured logs: one JSON object per line, with the order id and event type as fields."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from shared.settings import Settings
from shared.tracing import TraceIdFilter

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "service": self.service, "logger": record.name,
                "message": record.getMessage()}
        line.update({key: value for key, value in record.__dict__.items()
                     if key not in _STANDARD and not key.startswith("_")})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


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


def configure_logging(settings: Settings) -> None:
    formatter = (JsonFormatter if settings.log_format == "json" else TextFormatter)(
        settings.service_name)
    handler = logging.StreamHandler(sys.stdout)
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
