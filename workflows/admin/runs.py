"""Admin for runs: the record of executions; resume, re-run and cancel.

Read-only pages fit 1280 px: the list shows the columns that matter (a coloured
status, the workflow and its connection, the event's object, a truncated error),
and a run's page shows each step run with its input, output and error as
collapsible JSON and its Stripe request id linked to Stripe's request log. A step
run whose condition did not hold says "Skipped" and why; one that repeated for each
item of a list says how many items there were, which one failed, and shows its
input and output item by item.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from connections.models import Connection, InboxEvent
from connections.permissions import can_use
from konnectify.platform.admin_actions import RefuseForbiddenActions
from konnectify.platform.big_tables import BigTableAdmin
from workflows import services
from workflows.filters import UNARY
from workflows.models import Match, Run, RunStatus, StepRun, Workflow

# What a Stripe id looks like: a lowercase prefix, an underscore, then letters, digits
# and underscores (evt_1Nq..., cus_9s6X..., in_1MtH..., test ids such as evt_test_...).
STRIPE_ID = re.compile(r"^[a-z]+_[A-Za-z0-9_]+$")
REQUEST_ID = re.compile(r"^req_[A-Za-z0-9]+$")
# Stripe's dashboard shows one API request's log at this address, per mode
# (https://docs.stripe.com/api/request_ids: "request identifiers in the URLs of
# individual request logs in your Dashboard").
REQUEST_LOG_URLS = {
    Connection.Mode.LIVE: "https://dashboard.stripe.com/logs/{}",
    Connection.Mode.TEST: "https://dashboard.stripe.com/test/logs/{}",
}
ERROR_PREVIEW_CHARS = 90
ERROR_TITLE_CHARS = 300


def status_badge(status: str) -> SafeString:
    """A run's or step run's status as a coloured badge (``runs.css``, admin's colours)."""
    label = RunStatus(status).label if status in RunStatus.values else status
    return format_html('<span class="run-status run-status-{}">{}</span>', status, label)


def request_log_link(request_id: str, mode: str) -> SafeString | str:
    """Stripe's dashboard page of one request (a new tab, no referrer), or the bare id.

    Only a well-formed ``req_...`` of a connection whose mode is known is linked: the
    id comes from a response header.
    """
    template = REQUEST_LOG_URLS.get(mode)
    if not request_id:
        return "-"
    if template is None or not REQUEST_ID.match(request_id):
        return request_id
    return format_html(
        '<a class="request-log" href="{}" target="_blank" rel="noopener noreferrer" '
        'title="Open this request in Stripe\'s dashboard (new tab)">{}</a>',
        template.format(request_id),
        request_id,
    )


def json_details(label: str, value: Any, *, open_: bool = False) -> SafeString | str:
    """``value`` as indented JSON in a collapsible ``<details>``; "" when empty."""
    if value in (None, "", {}, []):
        return ""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return format_html(
        '<details class="run-json"{}><summary>{}</summary><pre>{}</pre></details>',
        " open" if open_ else "",
        label,
        text,
    )


def items_details(label: str, items: list, total: int | None) -> SafeString | str:
    """A for-each step's per-item ``items`` (inputs or outputs, in order) as a list of
    collapsible JSON blocks, "Item 1 · prod_123"; "" when there are none.

    ``total``: how many items the list had (``StepRun.item_count``), for "2 of 3 items".
    """
    if not items:
        return ""
    count = f"{len(items)} of {total}" if total is not None and total != len(items) else len(items)
    blocks = format_html_join(
        "",
        '<li><details class="run-json run-item"><summary>Item {}{}</summary>'
        "<pre>{}</pre></details></li>",
        (
            (
                position,
                _item_id(item),
                json.dumps(item, indent=2, ensure_ascii=False, default=str),
            )
            for position, item in enumerate(items, start=1)
        ),
    )
    return format_html(
        '<details class="run-json run-items"><summary>{}: {} {}</summary>'
        '<ol class="run-items-list">{}</ol></details>',
        label,
        count,
        "item" if len(items) == 1 and total in (None, 1) else "items",
        blocks,
    )


def _item_id(item: Any) -> SafeString | str:
    """The item's Stripe id after a middle dot, to tell the items apart; "" without one."""
    if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
        return format_html(' · <span class="run-mono">{}</span>', Truncator(item["id"]).chars(60))
    return ""


def condition_text(step_run: StepRun) -> str:
    """The step run's condition in words: "all of: trigger.data.object.amount_due gt 0"."""
    rules = [rule for rule in step_run.condition or [] if isinstance(rule, dict)]
    if not rules:
        return ""
    shown = []
    for rule in rules:
        value = "" if rule.get("op") in UNARY else f" {json.dumps(rule.get('value'))}"
        shown.append(f"{rule.get('path', '?')} {rule.get('op', '?')}{value}")
    if len(shown) == 1:
        return shown[0]
    return f"{'any' if step_run.condition_match == Match.ANY else 'all'} of: " + "; ".join(shown)


def for_each_facts(step_run: StepRun) -> dict[str, Any] | None:
    """For a step that repeats for each item: the list's path, how many items, how many
    done, and the failed item's position from 1 (``error["item"]`` is from 0); else None."""
    if not step_run.for_each:
        return None
    done = len(step_run.output) if isinstance(step_run.output, list) else None
    failed = step_run.error.get("item") if isinstance(step_run.error, dict) else None
    return {
        "path": step_run.for_each,
        "count": step_run.item_count,
        "done": done,
        "failed_item": failed + 1 if isinstance(failed, int) and failed >= 0 else None,
    }


def _json_blocks(step_run: StepRun) -> list[SafeString]:
    """Input, output and error as collapsible JSON; a for-each step's lists item by item."""
    failed = step_run.status == RunStatus.FAILED
    if step_run.for_each:
        inputs, outputs = step_run.input, step_run.output
        blocks = (
            items_details("Input", inputs, step_run.item_count)
            if isinstance(inputs, list)
            else json_details("Input", inputs),
            items_details("Output", outputs, step_run.item_count)
            if isinstance(outputs, list)
            else json_details("Output", outputs),
        )
    else:
        blocks = (json_details("Input", step_run.input), json_details("Output", step_run.output))
    return [
        block for block in (*blocks, json_details("Error", step_run.error, open_=failed)) if block
    ]


def step_rows(run: Run) -> list[dict[str, Any]]:
    """What the run's page shows of each step run, in order (see ``change_form.html``)."""
    mode = run.workflow.connection.mode
    rows = []
    for step_run in run.step_runs.order_by("order", "id"):
        skipped = step_run.status == RunStatus.SKIPPED
        rows.append(
            {
                "step_run": step_run,
                "status": status_badge(step_run.status),
                "request": request_log_link(step_run.request_id, mode),
                "left_out": ", ".join(step_run.left_out_fields or []),
                "skip_reason": (step_run.skip_reason or "The run stopped before this step.")
                if skipped
                else "",
                "condition": condition_text(step_run),
                "for_each": for_each_facts(step_run),
                "json": _json_blocks(step_run),
            }
        )
    return rows


@admin.register(Run)
class RunAdmin(BigTableAdmin, RefuseForbiddenActions, admin.ModelAdmin):
    list_display = ("run", "status_and_error", "workflow_column", "event_column")
    list_display_links = ("run",)
    list_filter = ("status", "workflow", "workflow__connection", "created_at")
    list_select_related = ("workflow__connection", "event")
    # get_search_results decides how each term is matched; this only shows the box.
    search_fields = ("=event__object_id",)
    search_help_text = (
        "An event id (evt_...), the id of the object an event is about (cus_..., in_..., "
        "pi_...), a run's number, or words of a workflow's name."
    )
    actions = ["resume_selected", "rerun_selected", "cancel_selected"]
    change_list_template = "admin/workflows/run/change_list.html"
    change_form_template = "admin/workflows/run/change_form.html"
    readonly_fields = (
        "workflow",
        "connection",
        "event",
        "event_object",
        "scheduled_for",
        "replay",
        "status_column",
        "full_error",
        "created_at",
        "started_at",
        "finished_at",
    )
    fields = readonly_fields

    class Media:
        css = {"all": ("workflows/runs.css",)}

    def has_add_permission(self, request) -> bool:
        return False

    def has_resume_permission(self, request: HttpRequest) -> bool:
        """Resuming changes the run and calls Stripe again: ``change_run`` and use."""
        return request.user.has_perm("workflows.change_run") and can_use(request.user)

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        """Re-running creates a run that calls Stripe again: ``add_run`` and use."""
        return request.user.has_perm("workflows.add_run") and can_use(request.user)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        """Canceling changes the run and sends nothing: ``change_run`` alone."""
        return request.user.has_perm("workflows.change_run")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The list never shows an event's payload: leave it in the database.
        return super().get_queryset(request).defer("event__payload")

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return super().changelist_view(request, {"title": "Runs", **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        """A run is read-only ("View run"); its buttons act through the list's actions."""
        context = {
            "title": "View run",
            "can_resume": self.has_resume_permission(request),
            "can_rerun": self.has_rerun_permission(request),
            "can_cancel": self.has_cancel_permission(request),
            "cancelable": services.CANCELABLE,
        }
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["step_rows"] = step_rows(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # -- search ---------------------------------------------------------------------

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """Exact, indexed matches only (the list holds millions of runs).

        ``evt_...``: the runs of that event (``inbox_event_unique_per_connection``,
        one index probe per connection). Any other Stripe id (``cus_...``, ``in_...``):
        the runs of the events about that object (``inbox_object_id_idx``). A number:
        that run. Other words: runs of the workflows whose name contains them (the
        workflows table is small; ``run_workflow_created_idx`` then). Never a
        substring scan of runs or events.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith("evt_") and STRIPE_ID.match(term):
            connections = list(Connection.objects.values_list("pk", flat=True))
            events = InboxEvent.objects.filter(connection_id__in=connections, stripe_event_id=term)
            return queryset.filter(event_id__in=list(events.values_list("pk", flat=True))), False
        if STRIPE_ID.match(term):
            events = InboxEvent.objects.filter(object_id=term).values("pk")
            return queryset.filter(event_id__in=events), False
        if term.isdigit() and len(term) < 19:
            return queryset.filter(pk=int(term)), False
        workflows = Workflow.objects.filter(name__icontains=term).values("pk")
        return queryset.filter(workflow_id__in=workflows), False

    # -- columns ----------------------------------------------------------------------

    @admin.display(description="Run", ordering="created_at")
    def run(self, run: Run) -> SafeString:
        replay = (
            format_html('<span class="run-sub">re-run {}</span>', run.replay) if run.replay else ""
        )
        return format_html(
            '<span class="run-number">{}</span><span class="run-sub">{}</span>{}',
            run.pk,
            run.created_at.strftime("%b %d, %H:%M"),
            replay,
        )

    @admin.display(description="Status", ordering="status")
    def status_column(self, run: Run) -> SafeString:
        return status_badge(run.status)

    @admin.display(description="Workflow", ordering="workflow__name")
    def workflow_column(self, run: Run) -> SafeString:
        workflow, connection = run.workflow, run.workflow.connection
        return format_html(
            '<span class="run-clip" title="{}">{}</span>'
            '<span class="run-sub run-clip" title="{}">{}</span>',
            workflow.name,
            workflow.name,
            connection.name,
            connection.name,
        )

    @admin.display(description="Event")
    def event_column(self, run: Run) -> SafeString:
        if run.event_id is None:
            when = run.scheduled_for.strftime("%b %d, %H:%M") if run.scheduled_for else "-"
            return format_html('<span class="run-sub">schedule {}</span>', when)
        event = run.event
        return format_html(
            '<span class="run-clip run-mono" title="{}">{}</span>'
            '<span class="run-sub run-clip" title="{}">{}</span>',
            event.object_id or event.stripe_event_id,
            event.object_id or event.stripe_event_id,
            event.stripe_event_id,
            event.type,
        )

    @admin.display(description="Status", ordering="status")
    def status_and_error(self, run: Run) -> SafeString:
        """The badge, and the start of the error below it (in full on the run's page)."""
        if not run.error:
            return status_badge(run.status)
        return format_html(
            '{}<span class="run-error" title="{}">{}</span>',
            status_badge(run.status),
            Truncator(run.error).chars(ERROR_TITLE_CHARS),
            Truncator(run.error).chars(ERROR_PREVIEW_CHARS),
        )

    # -- the run's page ---------------------------------------------------------------

    @admin.display(description="Connection")
    def connection(self, run: Run) -> str:
        connection = run.workflow.connection
        mode = f" ({connection.get_mode_display().lower()} mode)" if connection.mode else ""
        return f"{connection.name}{mode}"

    @admin.display(description="Object")
    def event_object(self, run: Run) -> str:
        return (run.event.object_id or "-") if run.event_id else "-"

    @admin.display(description="Error")
    def full_error(self, run: Run) -> SafeString | str:
        if not run.error:
            return "-"
        return format_html('<div class="run-error-full">{}</div>', run.error)

    # -- actions ------------------------------------------------------------------------

    @admin.action(description="Resume from failed step", permissions=["resume"])
    def resume_selected(self, request: HttpRequest, queryset):
        return self._confirm(request, queryset, "resume")

    @admin.action(
        description="Re-run from the start (new run, new idempotency keys)", permissions=["rerun"]
    )
    def rerun_selected(self, request: HttpRequest, queryset):
        return self._confirm(request, queryset, "rerun")

    @admin.action(description="Cancel pending or retrying runs", permissions=["cancel"])
    def cancel_selected(self, request: HttpRequest, queryset):
        """After a confirmation page: nothing more of these runs is sent to Stripe."""
        if request.POST.get("confirm") == "yes":
            done, refused = cancel_runs(queryset, request.user)
            self.message_user(request, f"{done} run(s) canceled.")
            for message in refused:
                self.message_user(request, message, level=messages.WARNING)
            return None
        return self._confirmation_page(request, queryset, "cancel", "Cancel these runs?")

    def _confirm(self, request: HttpRequest, queryset, kind: str):
        """An intermediate confirmation page, as admin's delete does; acts on 'confirm'."""
        for run in queryset.select_related("workflow__connection"):
            services.require_replay(request.user, run.workflow)
        if request.POST.get("confirm") == "yes":
            done, refused = replay_runs(queryset, kind)
            self.message_user(request, f"{done} run(s) queued.")
            for message in refused:
                self.message_user(request, message, level=messages.WARNING)
            return None
        title = "Resume from the failed step?" if kind == "resume" else "Re-run from the start?"
        return self._confirmation_page(request, queryset, kind, title)

    def _confirmation_page(self, request: HttpRequest, queryset, kind: str, title: str):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "runs": queryset.select_related("workflow", "event"),
            "kind": kind,
            "action": f"{kind}_selected",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
            "cancelable": services.CANCELABLE,
        }
        return TemplateResponse(request, "admin/workflows/run/confirm_replay.html", context)


def replay_runs(runs, kind: str) -> tuple[int, list[str]]:
    """Resume or re-run each run; returns (how many, why others were refused)."""
    done, refused = 0, []
    for run in runs:
        try:
            if kind == "resume":
                services.resume_run(run)
            else:
                new, created = services.start_rerun(run)
                if not created:
                    refused.append(f"Run {run.pk} was re-run already, as run {new.pk}.")
                    continue
            done += 1
        except services.ReplayError as exc:
            refused.append(f"Run {run.pk}: {exc}")
    return done, refused


def cancel_runs(runs, user) -> tuple[int, list[str]]:
    """Cancel each run (``services.cancel_run``); returns (how many, why others were not)."""
    done, refused = 0, []
    for run in runs:
        try:
            services.cancel_run(run, user)
        except services.CancelError as exc:
            refused.append(str(exc))
        else:
            done += 1
    return done, refused
