"""The Machines API subset under ``/v1`` (apps, machines, volumes, secrets)."""
