"""Admin for connections (key masked, webhook state, problems) and the read-only inbox.

A connection's page carries Test connection and Sync webhook endpoint, an inbox event's
page Dispatch again (with a report per workflow, and re-running the runs the event
already started), each a POST with the permission checks of the list's bulk action.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET, require_POST

from connections.admin_search import InboxBigTableAdmin
from connections.forms import ConnectionForm
from connections.inbox import Dispatched, registered_redispatcher, undispatchable
from connections.models import Connection, InboxEvent
from connections.permissions import can_use, require_use
from connections.services import delete_connection, recheck_connection
from connections.webhooks import event_types_in_use, sync_webhook_endpoint
from konnectify.platform.admin_actions import RefuseForbiddenActions

ENCRYPTED = ("secret_key", "webhook_secret", "previous_webhook_secret")
SMALL = "font-size:11px;color:var(--body-quiet-color);overflow-wrap:anywhere"
PROBLEM_CHARS = 160  # of each problem in the connections list
COLORS = {
    # Run statuses (workflows'), in the event's runs.
    "succeeded": "#067647",
    "failed": "#b42318",
    "retrying": "#b54708",
    "pending": "#175cd3",
    "running": "#175cd3",
    "skipped": "#667085",
    "canceled": "#667085",
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


# Dispatched.result, for people.
RESULT_LABELS = {
    "created": "Created",
    "filtered_out": "Filtered out",
    "already_ran": "Already ran",
    "inactive": "Inactive",
}


def livemode_badge(livemode: bool) -> str:
    """Stripe's livemode as the mode it means: a "Live" or "Test" badge (not a tick or cross)."""
    mode = Connection.Mode.LIVE if livemode else Connection.Mode.TEST
    return badge(mode, mode.label)


def ago(when) -> str:
    """A time as "3 hours ago", the full date and time in its tooltip; "-" when unknown."""
    if when is None:
        return "-"
    since = timesince(when, depth=1)
    return format_html(
        '<span title="{}" style="white-space:nowrap">{}</span>',
        when.isoformat(timespec="seconds"),
        "just now" if since.startswith("0\xa0") else f"{since} ago",
    )


def dispatch_report_key(event: InboxEvent) -> str:
    """The session key of the event's last Dispatch again report (a list of Dispatched
    as dicts), kept for one view."""
    return f"connections.dispatch_again_report.{event.pk}"


def admin_url(user, name: str, *args) -> str | None:
    """The admin page ``admin:<name>`` for ``args`` if ``user`` may view it, else None.

    For links to another app's pages (``workflows_run_change``): connections never
    imports workflows, so the model is found by its admin URL name.
    """
    app_label, _, rest = name.partition("_")
    model_name = rest.rsplit("_", 1)[0]
    if not (
        user.has_perm(f"{app_label}.view_{model_name}")
        or user.has_perm(f"{app_label}.change_{model_name}")
    ):
        return None
    try:
        return reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return None


@admin.register(Connection)
class ConnectionAdmin(RefuseForbiddenActions, admin.ModelAdmin):
    form = ConnectionForm
    # What an operator scans for, within 1280 px beside admin's two sidebars: which
    # connection and account, its key and mode, whether key and endpoint work, when it
    # last heard from Stripe, and what is wrong (cut short; the page has it in full).
    # The key's type (its sk_/rk_ prefix shows it), the webhook mode and the dates are on
    # the connection's page.
    list_display = ["connection", "key_and_mode", "health", "last_event", "problems"]
    list_display_links = None  # the name in the first column links, not the account under it
    list_filter = ["mode", "key_kind", "status", "webhook_mode", "webhook_status"]
    search_fields = ["name", "account_id", "account_name"]
    actions = ["test_connection", "sync_endpoint"]
    change_form_template = "admin/connections/connection/change_form.html"
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

    @admin.display(description="Key type", ordering="key_kind")
    def kind_badge(self, obj: Connection) -> str:
        return badge(obj.key_kind, obj.get_key_kind_display())

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Connection) -> str:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Webhook", ordering="webhook_status")
    def webhook_badge(self, obj: Connection) -> str:
        return badge(obj.webhook_status, obj.get_webhook_status_display())

    @admin.display(description="Connection", ordering="name")
    def connection(self, obj: Connection) -> str:
        """Its name (the link to its page), the Stripe account's name and id under it."""
        account = f"{obj.account_name} ({obj.account_id})" if obj.account_name else obj.account_id
        return format_html(
            '<a href="{}">{}</a><div style="{}">{}</div>',
            reverse("admin:connections_connection_change", args=[obj.pk]),
            obj.name,
            SMALL,
            account or "No account yet",
        )

    @admin.display(description="API key", ordering="key_hint")
    def key_and_mode(self, obj: Connection) -> str:
        """The masked key, its mode as a Live or Test badge under it."""
        return format_html(
            '<span style="white-space:nowrap">{}</span><div>{}</div>',
            obj.key_hint or "-",
            self.mode_badge(obj),
        )

    @admin.display(description="Status", ordering="status")
    def health(self, obj: Connection) -> str:
        """The key's status and the webhook endpoint's, one over the other, each named."""
        return format_html(
            '<div style="white-space:nowrap">Key {}</div>'
            '<div style="white-space:nowrap;margin-top:3px">Webhook {}</div>',
            self.status_badge(obj),
            self.webhook_badge(obj),
        )

    @admin.display(description="Last event", ordering="last_event_at")
    def last_event(self, obj: Connection) -> str:
        return ago(obj.last_event_at)

    @admin.display(description="Account")
    def account(self, obj: Connection) -> str:
        if not obj.account_id:
            return "-"
        return f"{obj.account_name} ({obj.account_id})" if obj.account_name else obj.account_id

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj: Connection) -> str:
        return obj.webhook_url

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
            "<code>{}</code>, API version <code>{}</code>, and these event types:"
            # Admin indents an aligned form's lists by its label column: not this one.
            '<ul class="manual-event-types" style="margin:0.3em 0;padding-left:0">{}</ul>'
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
        if not text:
            return "-"
        # Long messages (a URL in a Stripe error) wrap in their column instead of widening
        # it, cut short: the whole message is in the tooltip and on the connection's page.
        return format_html_join(
            "",
            '<div title="{}" style="overflow-wrap:anywhere;margin-bottom:3px">{}</div>',
            ((p, Truncator(p).chars(PROBLEM_CHARS)) for p in text),
        )

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

    def get_urls(self) -> list:
        """The connection page's buttons: POST ``<id>/test/`` and ``<id>/sync-endpoint/``."""
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/test/",
                wrap(require_POST(self.test_one_view)),
                name="connections_connection_test",
            ),
            path(
                "<path:object_id>/sync-endpoint/",
                wrap(require_POST(self.sync_one_view)),
                name="connections_connection_sync",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        context = {
            "can_test": self.has_test_permission(request),
            "can_sync": self.has_sync_permission(request),
        }
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def test_one_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The page's Test connection: the bulk action's checks and service, for one."""
        return self._act_on_one(request, object_id, self.has_test_permission, self.test_connection)

    def sync_one_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The page's Sync webhook endpoint: the bulk action's checks and service, for one."""
        return self._act_on_one(request, object_id, self.has_sync_permission, self.sync_endpoint)

    def _act_on_one(self, request: HttpRequest, object_id: str, allowed, action) -> HttpResponse:
        """Run ``action`` on one connection (403 unless ``allowed``), then show its page."""
        if not allowed(request):
            raise PermissionDenied
        connections = self.get_queryset(request).filter(pk=_pk_or_404(self.model, object_id))
        if not connections.exists():
            raise Http404("No such connection.")
        action(request, connections)
        change = reverse("admin:connections_connection_change", args=[connections[0].pk])
        return HttpResponseRedirect(change)

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
class InboxEventAdmin(InboxBigTableAdmin, RefuseForbiddenActions, admin.ModelAdmin):
    # Within 1280 px beside admin's two sidebars: the event (its id over its type), the
    # connection (its mode under it), status, runs, and when it arrived (how, under it).
    list_display = ["event", "connection_and_mode", "status_badge", "runs_link", "arrived"]
    list_display_links = None  # the event id in the first column links, not the type under it
    list_filter = ["connection", "status", "type", "source", "livemode", "received_at"]
    # "=": the object id is matched exactly, so the index on it is used.
    search_fields = ["stripe_event_id", "=object_id", "type"]
    show_full_result_count = False  # a COUNT(*) per page view gets slow on a big inbox
    actions = ["dispatch_again_action"]
    change_form_template = "admin/connections/inboxevent/change_form.html"
    fields = [
        "stripe_event_id",
        "type",
        "object_id",
        "connection",
        "status_badge",
        "status_detail",
        "livemode_badge",
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
        events = super().get_queryset(request).select_related("connection").defer(*encrypted)
        return events.annotate(run_count=run_count())

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

    @admin.display(description="Event", ordering="stripe_event_id")
    def event(self, obj: InboxEvent) -> str:
        """The event's id (the link to its page), its type under it."""
        return format_html(
            '<a href="{}" style="overflow-wrap:anywhere">{}</a><div style="{}">{}</div>',
            reverse("admin:connections_inboxevent_change", args=[obj.pk]),
            obj.stripe_event_id,
            SMALL,
            obj.type,
        )

    @admin.display(description="Connection", ordering="connection__name")
    def connection_and_mode(self, obj: InboxEvent) -> str:
        """The connection's name, the event's mode (Live or Test) under it."""
        return format_html("{}<div>{}</div>", obj.connection.name, livemode_badge(obj.livemode))

    @admin.display(description="Received", ordering="received_at")
    def arrived(self, obj: InboxEvent) -> str:
        """When the event was received ("... ago"), and how (webhook, reconciliation...)."""
        return format_html(
            '{}<div style="{}">{}</div>', ago(obj.received_at), SMALL, obj.get_source_display()
        )

    @admin.display(description="Live mode", ordering="livemode")
    def livemode_badge(self, obj: InboxEvent) -> str:
        return livemode_badge(obj.livemode)

    @admin.display(description="Runs", ordering="run_count")
    def runs_link(self, obj: InboxEvent) -> str:
        """How many runs the event started, linked to the runs list showing them."""
        if not obj.run_count:
            return "0"
        try:
            runs = reverse("admin:workflows_run_changelist")
        except NoReverseMatch:
            return str(obj.run_count)
        return format_html('<a href="{}?event__id__exact={}">{}</a>', runs, obj.pk, obj.run_count)

    def get_urls(self) -> list:
        """An event page's buttons: POST ``<id>/dispatch-again/`` (then GET its
        ``report/``) and ``<id>/rerun/``."""
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/dispatch-again/",
                wrap(require_POST(self.dispatch_again_view)),
                name="connections_inboxevent_dispatch_again",
            ),
            path(
                "<path:object_id>/dispatch-again/report/",
                wrap(require_GET(self.dispatch_again_report_view)),
                name="connections_inboxevent_dispatch_again_report",
            ),
            path(
                "<path:object_id>/rerun/",
                wrap(require_POST(self.rerun_view)),
                name="connections_inboxevent_rerun",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        event = self.get_object(request, unquote(object_id))
        context = {}
        if event is not None:
            context = {
                "can_dispatch": self.has_dispatch_permission(request),
                "undispatchable": undispatchable(event),
                "event_runs": self.run_rows(request, event),
            }
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def run_rows(self, request: HttpRequest, event: InboxEvent) -> list[dict]:
        """The runs the event started, oldest first: workflow, status, created, and links to
        their pages for a user who may view them."""
        rows = []
        for run in event.runs.select_related("workflow").order_by("created_at", "pk"):
            rows.append(
                {
                    "pk": run.pk,
                    "url": admin_url(request.user, "workflows_run_change", run.pk),
                    "workflow": run.workflow.name,
                    "workflow_url": admin_url(
                        request.user, "workflows_workflow_change", run.workflow_id
                    ),
                    "status": badge(run.status, run.get_status_display()),
                    "replay": run.replay,
                    "created_at": run.created_at,
                }
            )
        return rows

    def _event_for(self, request: HttpRequest, object_id: str) -> InboxEvent:
        """The event of a button's POST, after viewing events, the dispatch permission and
        use of its connection were checked (403 otherwise, 404 for an unknown id): what
        the list's bulk action asks."""
        if not (self.has_view_permission(request) and self.has_dispatch_permission(request)):
            raise PermissionDenied
        event = self.get_object(request, unquote(object_id))
        if event is None:
            raise Http404("No such inbox event.")
        require_use(request.user, event.connection)
        return event

    @staticmethod
    def _authorize(request: HttpRequest, event: InboxEvent, run_ids=None) -> None:
        """PermissionDenied unless the user may run the steps of the workflows this
        dispatches again (or re-runs): their credentials too, as the registered
        redispatcher says."""
        redispatcher = registered_redispatcher()
        if redispatcher is not None and redispatcher.authorize is not None:
            redispatcher.authorize(request.user, event, run_ids)

    def dispatch_again_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The page's Dispatch again (POST): the event's runs are created now; the report
        of what happened per workflow is kept in the session for one view of
        ``dispatch_again_report_view``, where the browser is sent (POST/redirect/GET: a
        reload of the report does not dispatch again)."""
        event = self._event_for(request, object_id)
        self._authorize(request, event)
        change = reverse("admin:connections_inboxevent_change", args=[event.pk])
        refusal = undispatchable(event)
        if refusal:
            self.message_user(
                request, f"{event.stripe_event_id} not dispatched: {refusal}", messages.WARNING
            )
            return HttpResponseRedirect(change)
        report: list[Dispatched] = registered_redispatcher().dispatch(event)
        request.session[dispatch_report_key(event)] = [asdict(line) for line in report]
        return HttpResponseRedirect(
            reverse("admin:connections_inboxevent_dispatch_again_report", args=[event.pk])
        )

    def dispatch_again_report_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: the report of the last Dispatch again of this event, shown once, offering
        to re-run the finished runs the event had already started. Rights as Dispatch
        again; once shown (a reload), the event's page, which lists its runs."""
        event = self._event_for(request, object_id)
        self._authorize(request, event)
        change = reverse("admin:connections_inboxevent_change", args=[event.pk])
        stored = request.session.pop(dispatch_report_key(event), None)
        if stored is None:
            self.message_user(
                request,
                "The report of Dispatch again is shown once; the event's runs are listed here.",
            )
            return HttpResponseRedirect(change)
        report = [Dispatched(**line) for line in stored]
        rows = [
            {
                "line": line,
                "result": RESULT_LABELS.get(line.result, line.result),
                "workflow_url": admin_url(request.user, "workflows_workflow_change", line.workflow),
                "run_url": admin_url(request.user, "workflows_run_change", line.run)
                if line.run
                else None,
            }
            for line in report
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Dispatched {event.stripe_event_id} again",
            "opts": self.opts,
            "original": event,
            "event": event,
            "rows": rows,
            "rerunnable": [line for line in report if line.rerunnable],
            "can_rerun": registered_redispatcher().rerun is not None,
            "change_url": change,
        }
        return TemplateResponse(
            request, "admin/connections/inboxevent/dispatch_again.html", context
        )

    def rerun_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Re-run the chosen runs the event started (new runs from the first step), then
        show the event's page with one message per run."""
        event = self._event_for(request, object_id)
        rerun = registered_redispatcher().rerun
        if rerun is None:
            raise PermissionDenied("Nothing can re-run runs here.")
        try:
            run_ids = [int(value) for value in request.POST.getlist("run")]
        except ValueError:
            run_ids = []
        self._authorize(request, event, run_ids)
        if not run_ids:
            self.message_user(request, "Choose the runs to re-run.", messages.WARNING)
        for line in rerun(event, run_ids) if run_ids else []:
            self.message_user(request, line)
        return HttpResponseRedirect(reverse("admin:connections_inboxevent_change", args=[event.pk]))

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
            self._authorize(request, event)
        dispatch = registered_redispatcher().dispatch
        for event in events:
            refusal = undispatchable(event)
            if refusal:
                self.message_user(
                    request, f"{event.stripe_event_id} not dispatched: {refusal}", messages.WARNING
                )
            else:
                report = dispatch(event)
                lines = " ".join(map(str, report)) or nothing_waits(event)
                self.message_user(request, f"{event.stripe_event_id}: {lines}")


def nothing_waits(event: InboxEvent) -> str:
    """What Dispatch again says of an event no workflow waits for."""
    return f"No workflow of its connection waits for {event.type}."


def run_count() -> Coalesce:
    """How many runs an inbox event started: a subquery per listed row (the runs' index on
    their event answers it), not a join grouping the whole inbox.

    Runs are workflows' (a reverse relation named ``runs``); connections never imports them.
    """
    runs = InboxEvent._meta.get_field("runs").related_model
    counted = (
        runs.objects.filter(event=OuterRef("pk"))
        .order_by()
        .values("event")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted), 0)


def _pk_or_404(model, object_id: str):
    """``object_id`` from a URL as ``model``'s primary key; Http404 when it cannot be one."""
    try:
        return model._meta.pk.to_python(unquote(object_id))
    except ValidationError:
        raise Http404(f"No {model._meta.verbose_name} with that id.") from None


# Credentials of HTTP request steps have their own admin module.
from connections import credential_admin  # noqa: E402, F401
