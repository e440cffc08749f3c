"""Logging our processes share: every field written so that no text in it can forge a line of its own
(control characters escaped), as plain lines or, with LOG_FORMAT=json, one JSON object per line."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# C0 and C1 control characters, DEL, and Unicode's line and paragraph separators: each could end a line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: str) -> str:
    """'a\\r\\nb\\x00' -> 'a\\\\r\\\\nb\\\\x00': control characters as visible escapes."""

    return _CONTROL.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    named = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}.get(code)
    if named is not None:
        return named
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class SafeFormatter(logging.Formatter):
    """Plain lines; the message and every argument interpolated into it are escaped, tracebacks kept on
    their own (indented) lines as the logging module writes them."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.msg, record.args
        record.msg, record.args = escape(record.getMessage()), None
        try:
            return super().format(record)
        finally:
            record.msg, record.args = saved


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    """Set up the root logger of this process."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Twilio's client logs every request with its headers at INFO.
    logging.getLogger("twilio").setLevel(logging.WARNING)
