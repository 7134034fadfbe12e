"""AIRCRAFTML_LOG_FORMAT=json: one JSON object a line, the post id a field of its own."""

from __future__ import annotations

import json
import logging

from aircraftml.logs import JsonFormatter


def _line(message: str, *args: object, exc: bool = False) -> dict[str, object]:
    record = logging.LogRecord("aircraftml.handler", logging.INFO, __file__, 1, message, args, None)
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            record.exc_info = sys.exc_info()
    return json.loads(JsonFormatter().format(record))


def test_a_line_about_a_mention_carries_its_post_id() -> None:
    line = _line("post %s: %s %s", "1234567", "replied", "99")
    assert line["post_id"] == "1234567"
    assert line["message"] == "post 1234567: replied 99"
    assert line["level"] == "INFO" and line["logger"] == "aircraftml.handler"
    assert str(line["time"]).endswith("Z")


def test_other_lines_have_no_post_id_and_exceptions_stay_on_one_line() -> None:
    line = _line("worker ready", exc=True)
    assert "post_id" not in line
    assert "ValueError: boom" in str(line["exception"])
    assert "\n" not in JsonFormatter().format(
        logging.LogRecord("x", logging.ERROR, __file__, 1, "a\nb", None, None)
    )
