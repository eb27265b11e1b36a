"""Incident Response (the Infrastructure Operations Runbook), pure.

* `response`    Severity Levels and the procedure: assess, recommend (rollback, scale up,
                restart, none), the guardrails on acting without a person
* `record`      one incident as the response goes: its steps, the texts people receive
* `log`         Communicate: the incident log, an entry per incident
* `postmortem`  Investigate Root Cause: the post-mortem draft
"""
