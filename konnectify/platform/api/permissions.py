"""Django model permissions decide reads and writes; read-only tokens only read."""

from __future__ import annotations

from rest_framework import permissions

from konnectify.platform.models import ApiToken


def is_read_only_token(request) -> bool:
    return isinstance(request.auth, ApiToken) and request.auth.read_only


class ModelPermissions(permissions.DjangoModelPermissions):
    """Like DRF's, but reading needs the ``view`` permission too."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if request.method not in permissions.SAFE_METHODS and is_read_only_token(request):
            return False
        return super().has_permission(request, view)


class ActionPermission(permissions.BasePermission):
    """For ``@action`` endpoints that change something: named permissions, never read-only."""

    message = "You do not have permission to perform this action."

    def __init__(self, *perms: str) -> None:
        self.perms = perms

    def __call__(self):
        return self

    def has_permission(self, request, view) -> bool:
        if is_read_only_token(request):
            return False
        return request.user.has_perms(self.perms)


def requires(*perms: str) -> ActionPermission:
    """``permission_classes=[requires("connections.change_connection", ...)]``: all needed."""
    return ActionPermission(*perms)
