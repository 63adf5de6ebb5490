"""The JSON log formatter: one parseable object per line, extras kept, nothing it is given makes it raise."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import uuid
from pathlib import Path

from atrium.observability.json_logs import JsonFormatter


def _log_through_dict_config(emit) -> list[dict]:
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": "atrium.observability.json_logs.JsonFormatter"}},
            "handlers": {"memory": {"class": "logging.StreamHandler", "formatter": "json", "stream": stream}},
            "loggers": {"atrium.test.json": {"handlers": ["memory"], "level": "DEBUG", "propagate": False}},
        }
    )
    emit(logging.getLogger("atrium.test.json"))
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_becomes_one_json_line_with_level_logger_and_message():
    entries = _log_through_dict_config(lambda log: log.warning("case %d has %s frames", 7, "50"))
    assert len(entries) == 1
    entry = entries[0]
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "atrium.test.json"
    assert entry["message"] == "case 7 has 50 frames"
    assert entry["time"].endswith("+00:00")
    assert isinstance(entry["process"], int)


def test_extra_fields_are_kept_and_values_json_cannot_hold_become_strings():
    job = uuid.UUID(int=5)
    entries = _log_through_dict_config(
        lambda log: log.info("job started", extra={"job_id": 12, "run": job, "path": Path("/srv/x")})
    )
    assert entries[0]["job_id"] == 12
    assert entries[0]["run"] == str(job)
    assert entries[0]["path"] == "/srv/x"


def test_an_exception_is_written_inside_the_same_line():
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError("bad frame\nsecond line")
        except ValueError:
            log.exception("decode failed")

    entries = _log_through_dict_config(emit)
    assert len(entries) == 1
    assert entries[0]["message"] == "decode failed"
    assert "ValueError: bad frame" in entries[0]["exception"]


def test_static_fields_are_added_to_every_line():
    formatter = JsonFormatter(static_fields={"service": "web"})
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    assert json.loads(formatter.format(record))["service"] == "web"
