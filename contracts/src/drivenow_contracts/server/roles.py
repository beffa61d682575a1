"""The roles (drivenow_contracts.Role) as Django groups, for a service's data migration: each group holds the
permissions its role has in that service, given as `app_label.codename` or `app_label.*`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from drivenow_contracts.roles import Role


def ensure_role_groups(apps: Any, grants: Mapping[Role, Sequence[str]]) -> None:
    """Create a group for every role (the roles without grants too: a token's roles name groups everywhere) and set
    its permissions to exactly `grants[role]`; `admin` gets every permission. Permissions are created first: on a
    fresh database they do not exist until after migrate, too late for this."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    every = list(permission_model.objects.all())
    for role in Role:
        group, _ = group_model.objects.get_or_create(name=role.value)
        if role is Role.ADMIN:
            group.permissions.set(every)
            continue
        wanted = set(grants.get(role, ()))
        chosen = [
            permission
            for permission in every
            if f"{permission.content_type.app_label}.{permission.codename}" in wanted
            or f"{permission.content_type.app_label}.*" in wanted
        ]
        group.permissions.set(chosen)
