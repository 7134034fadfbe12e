"""How the bot's processes log: readable lines (``text``, the default) or one JSON object a
line (``json``, ``AIRCRAFTML_LOG_FORMAT=json``) for a log pipeline. In JSON, a line about
one mention carries its ``post_id`` as a field of its own (the handler and worker begin
such messages with ``post <id>:``)."""

from __future__ import annotations

import json
import logging
import re
import time

TEXT_FORMAT = "%(asctime)s %(processName)s %(name)s %(levelname)s %(message)s"
LOG_FORMATS = ("text", "json")
_POST_ID = re.compile(r"^post (\d+)\b")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName,
            "message": message,
        }
        post_id = getattr(record, "post_id", None) or _post_id(message)
        if post_id:
            line["post_id"] = post_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _post_id(message: str) -> str | None:
    found = _POST_ID.match(message)
    return found.group(1) if found else None


def configure_logging(level: int, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
