"""One switch for where fastkeras's progress output goes.

With interactive logging enabled (the default) progress bars and messages such as
"Epoch 1/10" are written to stdout. Disabled, every such message is sent to Python's
`logging` instead (logger "fastkeras", level INFO), which suits jobs whose output is
collected by a log system rather than read on a terminal.
"""

from __future__ import annotations

import logging
import sys

_LOGGER = logging.getLogger("fastkeras")
_state = {"interactive": True}


def enable_interactive_logging():
    """Sends progress bars and messages to stdout (the default)."""
    _state["interactive"] = True


def disable_interactive_logging():
    """Sends progress bars and messages to Python's `logging` (logger "fastkeras", INFO)
    instead of stdout. Progress bars then log one line when they finish rather than being
    redrawn in place."""
    _state["interactive"] = False


def is_interactive_logging_enabled():
    """True when progress output goes to stdout, False when it goes to `logging`."""
    return _state["interactive"]


def _ascii_fallback(text, stream):
    encoding = getattr(stream, "encoding", None) or "utf-8"
    text = text.replace("━", "=")
    return text.encode(encoding, errors="ignore").decode(encoding)


def write(text, stream=None):
    """Writes `text` as it is (no newline added) to `stream` (stdout by default), or logs it
    (without its carriage returns and trailing newline) when interactive logging is off."""
    text = str(text)
    if not is_interactive_logging_enabled():
        message = text.replace("\r", "").rstrip("\n")
        if message.strip():
            _LOGGER.info(message)
        return
    stream = sys.stdout if stream is None else stream
    try:
        stream.write(text)
    except UnicodeEncodeError:
        stream.write(_ascii_fallback(text, stream))
    try:
        stream.flush()
    except (AttributeError, OSError, ValueError):
        pass


def print_msg(message, line_break=True):
    """Prints `message` (followed by a newline unless `line_break=False`) to stdout, or logs
    it when interactive logging is off."""
    message = str(message)
    write(message + "\n" if line_break else message)
