"""Machines API routes (routing as data): ``(path, handler, methods, mutation)``."""

from __future__ import annotations

from starlette.routing import Route

from flysim.guard import fly_route
from flysim.machines import responses as r

ROUTES = [
    ("/v1/apps", r.apps_list, ["GET"], False),
    ("/v1/apps/{app}", r.apps_show, ["GET"], False),
    ("/v1/apps/{app}/machines", r.machines_list, ["GET"], False),
    ("/v1/apps/{app}/machines", r.machines_create, ["POST"], True),
    ("/v1/apps/{app}/machines/{machine_id}", r.machines_show, ["GET"], False),
    ("/v1/apps/{app}/machines/{machine_id}", r.machines_update, ["POST"], True),
    ("/v1/apps/{app}/machines/{machine_id}", r.machines_delete, ["DELETE"], True),
    ("/v1/apps/{app}/machines/{machine_id}/wait", r.machines_wait, ["GET"], False),
    ("/v1/apps/{app}/machines/{machine_id}/start", r.machines_start, ["POST"], True),
    ("/v1/apps/{app}/machines/{machine_id}/stop", r.machines_stop, ["POST"], True),
    ("/v1/apps/{app}/machines/{machine_id}/restart", r.machines_restart, ["POST"], True),
    ("/v1/apps/{app}/machines/{machine_id}/cordon", r.machines_cordon, ["POST"], True),
    ("/v1/apps/{app}/machines/{machine_id}/uncordon", r.machines_uncordon, ["POST"], True),
    ("/v1/apps/{app}/machines/{machine_id}/lease", r.machines_show_lease, ["GET"], False),
    ("/v1/apps/{app}/machines/{machine_id}/lease", r.machines_create_lease, ["POST"], True),
    ("/v1/apps/{app}/machines/{machine_id}/lease", r.machines_release_lease, ["DELETE"], True),
    ("/v1/apps/{app}/volumes", r.volumes_list, ["GET"], False),
    ("/v1/apps/{app}/volumes/{volume_id}", r.volumes_get_by_id, ["GET"], False),
    ("/v1/apps/{app}/volumes/{volume_id}", r.volume_delete, ["DELETE"], True),
    ("/v1/apps/{app}/volumes/{volume_id}/extend", r.volumes_extend, ["PUT"], True),
    ("/v1/apps/{app}/volumes/{volume_id}/snapshots", r.volumes_list_snapshots, ["GET"], False),
    ("/v1/apps/{app}/volumes/{volume_id}/snapshots", r.create_volume_snapshot, ["POST"], True),
    ("/v1/apps/{app}/secrets", r.secrets_list, ["GET"], False),
]

routes = [
    Route(path, fly_route(handler, mutation=mutation), methods=methods)
    for path, handler, methods, mutation in ROUTES
]
