"""Admin for connections (key masked, webhook state, problems) and the read-only inbox."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils.html import format_html, format_html_join

from connections.forms import ConnectionForm
from connections.inbox import registered_redispatcher, undispatchable
from connections.models import Connection, InboxEvent
from connections.permissions import can_use, require_use
from connections.services import delete_connection, recheck_connection
from connections.webhooks import event_types_in_use, sync_webhook_endpoint
from konnectify.platform.admin_actions import RefuseForbiddenActions

ENCRYPTED = ("secret_key", "webhook_secret", "previous_webhook_secret")
COLORS = {
    "live": "#b42318",
    "test": "#b54708",
    "secret": "#344054",
    "restricted": "#6941c6",
    "active": "#067647",
    "enabled": "#067647",
    "dispatched": "#067647",
    "manual": "#175cd3",
    "received": "#175cd3",
    "none": "#667085",
    "ignored": "#667085",
    "invalid": "#b42318",
    "error": "#b42318",
    "disabled": "#b42318",
    "mode_mismatch": "#b54708",
}


def badge(value: str, label: str) -> str:
    """A small coloured label (inline style: no static files to ship)."""
    if not value:
        return "-"
    return format_html(
        '<span style="background:{};color:#fff;border-radius:8px;padding:1px 8px;'
        'font-size:11px;white-space:nowrap">{}</span>',
        COLORS.get(value, "#667085"),
        label,
    )


@admin.register(Connection)
class ConnectionAdmin(RefuseForbiddenActions, admin.ModelAdmin):
    form = ConnectionForm
    list_display = [
        "name",
        "mode_badge",
        "kind_badge",
        "key_hint",
        "account",
        "status_badge",
        "webhook_badge",
        "last_event_at",
        "problems",
    ]
    list_filter = ["mode", "key_kind", "status", "webhook_mode", "webhook_status"]
    search_fields = ["name", "account_id", "account_name"]
    actions = ["test_connection", "sync_endpoint"]
    readonly_fields = [
        "key_hint",
        "mode_badge",
        "kind_badge",
        "account",
        "status_message",
        "webhook_url",
        "webhook_setup",
        "webhook_endpoint_id",
        "webhook_badge",
        "enabled_events",
        "webhook_error",
        "webhook_synced_at",
        "previous_secret_expires_at",
        "events_cursor",
        "last_event_at",
        "created_at",
        "updated_at",
    ]

    def get_fieldsets(self, request, obj=None):
        key = ["name", "new_key", "status", "api_version", "api_base"]
        webhook = ["webhook_mode", "new_webhook_secret"]
        if obj is None:
            return [(None, {"fields": key}), ("Webhook endpoint", {"fields": webhook})]
        return [
            (None, {"fields": key}),
            (
                "Stripe account",
                {"fields": ["key_hint", "mode_badge", "kind_badge", "account", "status_message"]},
            ),
            (
                "Webhook endpoint",
                {
                    "fields": [
                        *webhook,
                        "webhook_url",
                        "webhook_setup",
                        "webhook_badge",
                        "webhook_endpoint_id",
                        "enabled_events",
                        "webhook_error",
                        "webhook_synced_at",
                        "previous_secret_expires_at",
                    ]
                },
            ),
            ("Events", {"fields": ["last_event_at", "events_cursor", "created_at", "updated_at"]}),
        ]

    def get_queryset(self, request) -> QuerySet:
        # Lists need no secret: do not decrypt (or even load) them for every row.
        return super().get_queryset(request).defer(*ENCRYPTED)

    @admin.display(description="Mode", ordering="mode")
    def mode_badge(self, obj: Connection) -> str:
        return badge(obj.mode, obj.get_mode_display())

    @admin.display(description="Kind", ordering="key_kind")
    def kind_badge(self, obj: Connection) -> str:
        return badge(obj.key_kind, obj.get_key_kind_display())

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Connection) -> str:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Webhook", ordering="webhook_status")
    def webhook_badge(self, obj: Connection) -> str:
        return badge(obj.webhook_status, obj.get_webhook_status_display())

    @admin.display(description="Account")
    def account(self, obj: Connection) -> str:
        if not obj.account_id:
            return "-"
        return f"{obj.account_name} ({obj.account_id})" if obj.account_name else obj.account_id

    @admin.display(description="Enabled event types")
    def enabled_events(self, obj: Connection) -> str:
        return ", ".join(obj.webhook_enabled_events) or "-"

    @admin.display(description="Manual setup")
    def webhook_setup(self, obj: Connection) -> str:
        """What to paste into Stripe's dashboard when the key may not manage webhooks."""
        if obj.webhook_mode != Connection.WebhookMode.MANUAL:
            return "Automatic: Konnectify creates and updates the endpoint."
        types = event_types_in_use(obj)
        items = format_html_join("", "<li><code>{}</code></li>", ((t,) for t in types))
        return format_html(
            "In Stripe's dashboard (Developers &gt; Webhooks) add an endpoint with the URL "
            "<code>{}</code>, API version <code>{}</code>, and these event types:<ul>{}</ul>"
            "Then paste its signing secret (whsec_...) above.",
            obj.webhook_url,
            obj.api_version,
            items or format_html("<li>{}</li>", "none in use yet"),
        )

    @admin.display(description="Problems")
    def problems(self, obj: Connection) -> str:
        found = [obj.status_message, obj.webhook_error]
        manual = obj.webhook_mode == Connection.WebhookMode.MANUAL
        if manual and obj.webhook_status != Connection.WebhookStatus.MANUAL:
            found.append("Manual mode: no signing secret pasted yet.")
        text = [p for p in found if p]
        return format_html_join("", "<div>{}</div>", ((p,) for p in text)) if text else "-"

    def has_test_permission(self, request) -> bool:
        """Test connection sends the stored key to Stripe and records its verdict.

        Changing the connection and using it (admin ORs an action's ``permissions``,
        so both are asked here).
        """
        return self.has_change_permission(request) and can_use(request.user)

    @admin.action(description="Test connection", permissions=["test"])
    def test_connection(self, request, queryset: QuerySet) -> None:
        """Sends each stored key to Stripe (and records its verdict): change and use."""
        for connection in queryset:
            require_use(request.user, connection)
        for connection in queryset:
            ok, message = recheck_connection(connection)
            level = messages.SUCCESS if ok else messages.ERROR
            self.message_user(request, f"{connection.name}: {message}", level)

    def has_sync_permission(self, request) -> bool:
        """Sync webhook endpoint sends the stored key to Stripe: change and use, as Test does."""
        return self.has_change_permission(request) and can_use(request.user)

    @admin.action(description="Sync webhook endpoint", permissions=["sync"])
    def sync_endpoint(self, request, queryset: QuerySet) -> None:
        """What the periodic check does anyway: the endpoint matches the workflows in use.

        The periodic check acts for the operator; a click acts for the user, who spends
        the key on Stripe's webhook_endpoints calls: they must be allowed to use it.
        """
        for connection in queryset:
            require_use(request.user, connection)
        for connection in queryset:
            result = sync_webhook_endpoint(connection, event_types_in_use(connection))
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(request, f"{connection.name}: {result.message}", level)

    def save_model(self, request, obj: Connection, form: ConnectionForm, change) -> None:
        """``services.save_connection``, as the API saves: the checked key and secret go in."""
        form.save_validated(obj)

    def has_delete_permission(self, request, obj: Connection | None = None) -> bool:
        """Deleting also deletes the webhook endpoint in Stripe, with the stored key: use it too.

        Leaving the endpoint behind would have Stripe send (and retry for days) events to a
        URL that no longer answers; so deleting spends the key, like any other Stripe call.
        """
        return super().has_delete_permission(request, obj) and can_use(request.user, obj)

    def delete_model(self, request, obj: Connection) -> None:
        self._delete(request, obj)

    def delete_queryset(self, request, queryset: QuerySet) -> None:
        for connection in queryset:
            self._delete(request, connection)

    def _delete(self, request, connection: Connection) -> None:
        """Delete the endpoint in Stripe first; say so when that failed."""
        require_use(request.user, connection)
        warning = delete_connection(connection)
        if warning:
            self.message_user(request, f"{connection.name}: {warning}", messages.WARNING)


@admin.register(InboxEvent)
class InboxEventAdmin(RefuseForbiddenActions, admin.ModelAdmin):
    list_display = [
        "stripe_event_id",
        "type",
        "connection",
        "status_badge",
        "livemode",
        "source",
        "created",
        "received_at",
    ]
    list_filter = ["connection", "status", "type", "source", "livemode", "received_at"]
    # "=": the object id is matched exactly, so the index on it is used.
    search_fields = ["stripe_event_id", "=object_id", "type"]
    date_hierarchy = "received_at"
    show_full_result_count = False  # a COUNT(*) per page view gets slow on a big inbox
    actions = ["dispatch_again_action"]
    fields = [
        "stripe_event_id",
        "type",
        "object_id",
        "connection",
        "status_badge",
        "status_detail",
        "livemode",
        "api_version",
        "source",
        "created",
        "received_at",
        "payload_pruned_at",
        "payload_pretty",
    ]
    readonly_fields = fields

    def get_queryset(self, request) -> QuerySet:
        encrypted = [f"connection__{name}" for name in ENCRYPTED]
        return super().get_queryset(request).select_related("connection").defer(*encrypted)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request) -> dict:
        # Deleting stays possible (a connection's deletion cascades here) but not in bulk.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: InboxEvent) -> str:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Payload")
    def payload_pretty(self, obj: InboxEvent) -> str:
        text = json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', text)

    def has_dispatch_permission(self, request) -> bool:
        """Dispatching creates runs whose steps call Stripe: the permission workflows
        registered with the redispatcher (``workflows.add_run``) and use of connections."""
        redispatcher = registered_redispatcher()
        return (
            redispatcher is not None
            and request.user.has_perm(redispatcher.permission)
            and can_use(request.user)
        )

    @admin.action(description="Dispatch again", permissions=["dispatch"])
    def dispatch_again_action(self, request, queryset: QuerySet) -> None:
        """Create the runs now, as the API does, and say per event and workflow what
        happened; an event that cannot be dispatched again is refused, saying why."""
        events = list(queryset.order_by("pk"))
        for event in events:
            require_use(request.user, event.connection)
        dispatch = registered_redispatcher().dispatch
        for event in events:
            refusal = undispatchable(event)
            if refusal:
                self.message_user(
                    request, f"{event.stripe_event_id} not dispatched: {refusal}", messages.WARNING
                )
            else:
                lines = " ".join(dispatch(event))
                self.message_user(request, f"{event.stripe_event_id}: {lines}")
