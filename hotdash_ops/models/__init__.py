"""Pydantic models of every JSON we read from Fly.io (API and flyctl), parsed once."""

from hotdash_ops.models.app import App, ListAppsResponse, Organization
from hotdash_ops.models.logs import (
    LogEntry,
    parse_flyctl_log_stream,
    parse_logs_api,
    parse_logs_page,
)
from hotdash_ops.models.machine import (
    Guest,
    ImageRef,
    Machine,
    MachineCheck,
    MachineConfig,
    MachineEvent,
    MachineMount,
    MachineService,
)
from hotdash_ops.models.prometheus import PromResult, PromSample, PromSeries
from hotdash_ops.models.release import Release
from hotdash_ops.models.secrets import SecretInfo
from hotdash_ops.models.status import AppStatus
from hotdash_ops.models.vm import DEFAULT_VM_SIZE, VM_PRESETS, validate_vm
from hotdash_ops.models.volume import DESTROYED_STATES, Volume, VolumeExtendResult, VolumeSnapshot

__all__ = [
    "DEFAULT_VM_SIZE",
    "DESTROYED_STATES",
    "VM_PRESETS",
    "App",
    "AppStatus",
    "Guest",
    "ImageRef",
    "ListAppsResponse",
    "LogEntry",
    "Machine",
    "MachineCheck",
    "MachineConfig",
    "MachineEvent",
    "MachineMount",
    "MachineService",
    "Organization",
    "PromResult",
    "PromSample",
    "PromSeries",
    "Release",
    "SecretInfo",
    "Volume",
    "VolumeExtendResult",
    "VolumeSnapshot",
    "parse_flyctl_log_stream",
    "parse_logs_api",
    "parse_logs_page",
    "validate_vm",
]
