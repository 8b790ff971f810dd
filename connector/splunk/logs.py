"""The command's log file, ``$SPLUNK_HOME/var/log/splunk/spectra_analyze.log``
(Splunk indexes it into ``_internal``). Every line carries the process id;
secrets handed to ``SecretFilter`` are masked in every line as a last guard
(the code never logs them on purpose). The file is UTF-8; what UTF-8 cannot
hold (a lone surrogate from a JSON escape) is written as ``\\udXXX`` rather
than losing the line.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path
from typing import Optional

LOG_NAME = "spectra_analyze.log"
FORMAT = "%(asctime)s %(levelname)s pid=%(process)d %(name)s: %(message)s"
MASK = "********"


class SecretFilter(logging.Filter):
    """Masks known secrets (API token, session key) in every record it sees."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: list[str] = []

    def add(self, secret: Optional[str]) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            text = record.getMessage()
            for secret in self._secrets:
                text = text.replace(secret, MASK)
            record.msg, record.args = text, None
        return True


def log_path(environ=os.environ) -> Optional[Path]:
    home = environ.get("SPLUNK_HOME")
    return Path(home, "var", "log", "splunk", LOG_NAME) if home else None


def setup_logging(secrets: SecretFilter, level: str = "INFO") -> Optional[Path]:
    """Send the root logger to the log file (10 MB, 5 kept). Without
    SPLUNK_HOME, or when the file cannot be opened, logs go where splunklib
    sends them (stderr, the job's search.log). Returns the file's path."""
    root = logging.getLogger()
    root.setLevel(level)
    logging.getLogger("splunklib").setLevel(logging.WARNING)  # its debug lines print the session key
    for handler in root.handlers:
        handler.addFilter(secrets)
    path = log_path()
    if path is None:
        return None
    try:
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8", errors="backslashreplace"
        )
    except OSError:
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(secrets)
    root.addHandler(handler)
    return path
