"""Reusable Prefect tasks: Fly.io reads and commands, checks, reports, notifications.

Importing this package installs the redacting log filter on Prefect's loggers, so no task
or flow of the project can log a token.
"""

from tasks.redaction import install_redacting_filter

install_redacting_filter()
