"""The redacting log filter on every Prefect logger the project uses."""

from __future__ import annotations

import logging

from hotdash_ops.redaction import Redactor, default_redactor

# Run loggers carry flow and task logs to the API; the others print to the worker's console.
PREFECT_LOGGERS = ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.workers")


class RedactingFilter(logging.Filter):
    """Replaces every known secret in a record's message before any handler sees it."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._fixed = redactor

    @property
    def redactor(self) -> Redactor:
        # Read the environment per record: a token set after import is still redacted.
        return self._fixed or default_redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redactor.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are rendered from the exception later; render and redact them now.
            record.exc_text = self.redactor.redact(
                logging.Formatter().formatException(record.exc_info)
            )
            record.exc_info = None
        return True


def install_redacting_filter(redactor: Redactor | None = None) -> RedactingFilter:
    """Add one filter (idempotently) to each Prefect logger; secrets come from the environment."""
    flt = RedactingFilter(redactor)
    for name in PREFECT_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(old)
        logger.addFilter(flt)
    return flt
