"""Reusable Prefect tasks: Fly.io reads and commands, checks, reports, notifications.

Importing this package installs the redacting log filter on Prefect's loggers, so no task
or flow of the project can log a token, and the filter that logs a run waiting for a person
as what it is, not as an error (tasks/waiting.py).
"""

from tasks.redaction import install_redacting_filter
from tasks.waiting import install_waiting_filter

install_redacting_filter()
install_waiting_filter()
