"""Who may use a connection: spend its Stripe key on a request.

The one rule, called by every entry point that makes (or arranges) a Stripe
call with a connection's key: running an action (API), testing a connection,
testing a step, loading a sample event, saving or activating a workflow whose
steps call Stripe, replaying runs, dispatching events again, and the workflow
engine before each step (for the workflow's owner). Management commands run as
the operator, who holds the encryption keys anyway, and are not checked.

Using is its own right: viewing (``view_connection``) or changing
(``change_connection``) a connection does not imply it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

if TYPE_CHECKING:
    from connections.models import Connection

USE_CONNECTION = "connections.use_connection"


def can_use(user, connection: Connection | None = None) -> bool:
    """Whether ``user`` may spend ``connection``'s key: True or False, never raises.

    Without a connection: whether the user may use connections at all (to offer
    an admin action or button; the action itself then asks per connection).

    The model is Django's global permission ``connections.use_connection``
    ("Can run Stripe actions with a connection"), through a user's own
    permissions or groups; active superusers have it. An inactive (or missing)
    user never may. Object-level grants hook in here: the per-object question
    is asked too, but Django's ModelBackend answers False for any object
    permission, so with the default backends only the global permission counts.
    An object-permission backend (e.g. django-guardian) would make per-connection
    grants work without changing any caller.
    """
    if user is None or not getattr(user, "is_active", False):
        return False
    if user.has_perm(USE_CONNECTION):
        return True
    return connection is not None and user.has_perm(USE_CONNECTION, connection)


def refusal(user, connection: Connection) -> str:
    """The message for a refusal, naming the user and the connection."""
    return (
        f"{user} may not use connection {connection.name!r}: it needs the permission "
        "'Can run Stripe actions with a connection'."
    )


def require_use(user, connection: Connection) -> None:
    """Raise PermissionDenied (403 in admin and the API) unless ``can_use(user, connection)``."""
    if not can_use(user, connection):
        raise PermissionDenied(refusal(user, connection))


# -- credentials of HTTP request steps -----------------------------------------------

USE_CREDENTIAL = "connections.use_credential"


def can_use_credential(user, credential=None) -> bool:
    """Whether ``user`` may send HTTP requests with ``credential``'s secret; never raises.

    The same model as ``can_use``: Django's global permission
    ``connections.use_credential`` ("Can send HTTP requests with a credential"),
    or a per-object grant from an object-permission backend; viewing or changing
    a credential does not imply it. Checked when a workflow whose steps name a
    credential is saved or activated (for the steps being saved), when its runs are
    re-run or resumed or its event dispatched again (for who asks: the engine then
    sends as the owner), when a step is tested or run through the API, and by the
    engine before each request (for the workflow's owner).
    """
    if user is None or not getattr(user, "is_active", False):
        return False
    if user.has_perm(USE_CREDENTIAL):
        return True
    return credential is not None and user.has_perm(USE_CREDENTIAL, credential)


def credential_refusal(user, name: str) -> str:
    """The message for a refusal, naming the user and the credential."""
    return (
        f"{user} may not use credential {name!r}: it needs the permission "
        "'Can send HTTP requests with a credential'."
    )


def require_use_credential(user, credential) -> None:
    """Raise PermissionDenied (403 in admin and the API) unless ``can_use_credential``."""
    if not can_use_credential(user, credential):
        raise PermissionDenied(credential_refusal(user, credential.name))
