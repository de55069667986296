"""Operations on connections that talk to Stripe: key validation, testing, deletion.

Used by the admin and the REST API alike, so that both validate and save a
connection the same way. Nothing here logs or returns a key; messages name the problem.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models.deletion import Collector, ProtectedError, RestrictedError

from connections.models import Connection, ConnectionDisabled, require_key_for_api_base_change
from connections.webhooks import check_manual_secret, delete_endpoint, store_manual_secret
from stripe_connector.client import StripeClient, key_kind, key_mode, mask_key
from stripe_connector.errors import APIBaseNotAllowed, StripeError

logger = logging.getLogger(__name__)

# Cheap reads that prove a restricted key works when it may not read the account.
FALLBACK_READS = (("/v1/balance", None), ("/v1/customers", {"limit": 1}))


@dataclass(frozen=True)
class KeyCheck:
    """What Stripe told us about a key that works (never the key itself)."""

    key_hint: str
    mode: str
    kind: str
    account_id: str = ""
    account_name: str = ""
    warning: str = ""


def check_key(key: str, *, api_version: str | None = None, api_base: str = "") -> KeyCheck:
    """Validate ``key`` with Stripe; raise ValidationError with a clear message if it fails.

    ``GET /v1/account`` first; a restricted key refused there (403) is tried on
    another cheap read and accepted with a warning. An ``api_base`` the
    environment does not allow is refused (code ``api_base_not_allowed``)
    before anything is sent.
    """
    key = (key or "").strip()
    try:
        hint, mode, kind = mask_key(key), key_mode(key), key_kind(key)
        client = StripeClient(key, api_version=api_version, base_url=api_base or None)
    except APIBaseNotAllowed as exc:
        raise ValidationError(exc.message, code=exc.type) from None
    except ValueError as exc:
        raise ValidationError(str(exc), code="malformed") from None
    try:
        account = client.get("/v1/account").data
    except StripeError as exc:
        if not (exc.http_status == 403 and kind == "restricted"):
            raise _refusal(exc) from None
        return KeyCheck(hint, mode, kind, warning=_fallback_read(client))
    return KeyCheck(
        hint, mode, kind, account_id=account.get("id", ""), account_name=_account_name(account)
    )


def _fallback_read(client: StripeClient) -> str:
    """Try the fallback reads; return the warning to show, or raise ValidationError."""
    last_error: StripeError | None = None
    for path, params in FALLBACK_READS:
        try:
            client.get(path, params)
        except StripeError as exc:
            if exc.http_status != 403:
                raise _refusal(exc) from None
            last_error = exc
            continue
        return (
            "This restricted key may not read the account (GET /v1/account was refused), "
            f"so the account id is unknown; it was validated with GET {path}. Actions need "
            "the matching permissions on the key."
        )
    raise ValidationError(
        "This restricted key may not read the account, balance or customers, so it cannot "
        f"be validated: {last_error.message}",
        code="permission",
    )


def _refusal(exc: StripeError) -> ValidationError:
    """A ValidationError naming why Stripe (or the network) refused the key."""
    if exc.http_status == 401:
        text = f"Stripe refused the key (401, authentication failed): {exc.message}"
    elif exc.http_status is None:
        text = f"Could not reach Stripe to check the key: {exc.message}"
    else:
        text = f"Stripe could not confirm the key (HTTP {exc.http_status}): {exc.message}"
    return ValidationError(text, code=exc.type or "stripe")


def _account_name(account: dict) -> str:
    """The display name Stripe's dashboard shows, falling back to the business name or email."""
    dashboard = (account.get("settings") or {}).get("dashboard") or {}
    profile = account.get("business_profile") or {}
    return dashboard.get("display_name") or profile.get("name") or account.get("email") or ""


def apply_key(connection: Connection, key: str, check: KeyCheck) -> None:
    """Put a validated key and what Stripe said about it on ``connection`` (not saved)."""
    connection.secret_key = key.strip()
    connection.key_hint = check.key_hint
    connection.mode = check.mode
    connection.key_kind = check.kind
    connection.account_id = check.account_id
    connection.account_name = check.account_name
    if connection.status != Connection.Status.DISABLED:  # staff's choice stands
        connection.status = Connection.Status.ACTIVE
    connection.status_message = check.warning


def validate_and_store_key(connection: Connection, key: str) -> KeyCheck:
    """Validate ``key`` with Stripe, then store it on ``connection`` and save.

    On failure raises ValidationError and leaves the connection (object and row)
    exactly as it was: nothing is half-saved.
    """
    check = check_key(key, api_version=connection.api_version, api_base=connection.api_base)
    apply_key(connection, key, check)
    connection.save()
    return check


# --- saving (admin's form and the API's serializer) ----------------------------------


def validate_connection_write(
    current: Connection,
    *,
    key: str | None,
    webhook_mode: str,
    webhook_secret: str | None,
    api_version: str | None,
    api_base: str | None,
    key_field: str,
    secret_field: str,
) -> KeyCheck | None:
    """The save rules of a connection, one place for admin's form and the REST API.

    ``current`` is the connection as stored (unsaved for a new one); the others
    are the requested values (``api_base`` None: not changed). A pasted signing
    secret needs manual mode and the whsec_ format; changing ``api_base`` needs
    the key in the same save (``require_key_for_api_base_change``); a key is
    checked with Stripe (``check_key``), never sent to a refused base. Raises
    ValidationError naming every offending field (``key_field`` and
    ``secret_field`` are the caller's names for the key and the secret);
    returns Stripe's word on the key, or None when no key was given.
    """
    errors: dict[str, list[str]] = {}
    if webhook_secret and webhook_mode != Connection.WebhookMode.MANUAL:
        errors[secret_field] = [
            "Only manual mode takes a pasted secret; automatic mode stores the one Stripe "
            "returns when the endpoint is created."
        ]
    elif webhook_secret:
        try:
            check_manual_secret(webhook_secret)
        except ValidationError as exc:
            errors[secret_field] = exc.messages
    check = None
    try:
        if api_base is not None and not current._state.adding:
            require_key_for_api_base_change(current.api_base, api_base, key, key_field)
        if key:
            # This spends the key the user just typed, not the stored one: no use_connection
            # needed (they hold that key anyway); the stored key is never sent by a save.
            base = current.api_base if api_base is None else api_base
            check = _checked_key(key, api_version, base, key_field)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return check


def _checked_key(key: str, api_version: str | None, api_base: str, key_field: str) -> KeyCheck:
    try:
        return check_key(key, api_version=api_version, api_base=api_base or "")
    except ValidationError as exc:
        raise ValidationError({key_field: exc.messages}) from None


def save_connection(
    connection: Connection,
    *,
    key: str | None = None,
    key_check: KeyCheck | None = None,
    webhook_secret: str | None = None,
) -> Connection:
    """Save ``connection`` (its plain fields set by the caller) with the validated key and
    secret (``validate_connection_write``'s outcome): admin's form and the API alike."""
    if key_check is not None:
        apply_key(connection, key or "", key_check)
    if webhook_secret:
        store_manual_secret(connection, webhook_secret)
    connection.save()
    return connection


# The key itself may be fine after these: they do not make a connection invalid.
NOT_THE_KEYS_FAULT = ("api_connection_error", "api_base_not_allowed")


def recheck_connection(connection: Connection) -> tuple[bool, str]:
    """Check the stored key again; record the outcome on the connection; (ok, message).

    A refused key marks the connection invalid; a network failure or an API base
    the environment no longer allows only says so (nothing is sent then). A key
    that now answers for another account than the stored ``account_id`` marks
    the connection invalid and changes nothing else: the account is only ever
    replaced by entering a key. A disabled connection's key is not sent at all.
    """
    try:
        connection.require_enabled()
    except ConnectionDisabled as exc:
        return False, exc.message
    try:
        check = check_key(
            connection.secret_key, api_version=connection.api_version, api_base=connection.api_base
        )
    except ValidationError as exc:
        return _record_failed_check(
            connection, " ".join(exc.messages), invalid=exc.code not in NOT_THE_KEYS_FAULT
        )
    if connection.account_id and check.account_id and check.account_id != connection.account_id:
        message = (
            f"The key now answers for Stripe account {check.account_id}, not "
            f"{connection.account_id} this connection was set up with; nothing was changed. "
            "Enter the key again to use it with the new account."
        )
        return _record_failed_check(connection, message, invalid=True)
    apply_key(connection, connection.secret_key, check)
    connection.save()
    return True, check.warning or f"The key works for {check.account_name or check.mode}."


def _record_failed_check(
    connection: Connection, message: str, *, invalid: bool
) -> tuple[bool, str]:
    """Save why the check failed, and the invalid status when the key is at fault.

    A disabled connection stays disabled: staff's choice stands.
    """
    if invalid and connection.status != Connection.Status.DISABLED:
        connection.status = Connection.Status.INVALID
    connection.status_message = message
    connection.save(update_fields=["status", "status_message", "updated_at"])
    return False, message


# --- deleting -------------------------------------------------------------------


class ConnectionInUse(Exception):
    """Workflows still use the connection; nothing was deleted, in Stripe or here."""

    def __init__(self, blocking: list[str]) -> None:
        self.blocking = blocking
        super().__init__(f"In use, delete these first: {', '.join(blocking)}.")


def blocking_objects(connection: Connection) -> list[str]:
    """What keeps the connection from being deleted (workflows using it), as text."""
    collector = Collector(using=router.db_for_write(Connection, instance=connection))
    try:
        collector.collect([connection])
    except (ProtectedError, RestrictedError) as exc:
        blocking = getattr(exc, "protected_objects", None) or exc.restricted_objects
        return sorted(f"{obj._meta.verbose_name} {obj}" for obj in blocking)
    return []


def delete_connection(connection: Connection) -> str:
    """Delete the connection's webhook endpoint in Stripe, then the connection.

    Returns "" when all went well, or a warning (the endpoint could not be
    removed from Stripe and must be deleted by hand). The connection is deleted
    either way: a revoked key must not make a connection undeletable. A
    connection still used by workflows raises ConnectionInUse before anything
    happens, so its endpoint is never removed from under running workflows.
    """
    blocking = blocking_objects(connection)
    if blocking:
        raise ConnectionInUse(blocking)
    warning = ""
    if connection.webhook_mode == Connection.WebhookMode.AUTOMATIC:
        warning = delete_endpoint(connection)
    with transaction.atomic():
        connection.delete()
    return warning
