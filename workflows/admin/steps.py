"""The steps of a workflow in its admin page: form, formset checks and inline.

A step's input is edited in a form derived from its action's input schema, beside
a data picker, over the raw JSON (``workflows/admin/editor.py``, ``editor.js``).
Its "Run only if" rules (a rules editor like the workflow's filters, with its own
picker of ``trigger.`` and ``steps.`` paths and lists), their match, and the list it
repeats for (``for_each``, at most ``max_items``) sit in a collapsible section of
each step, open when any of them is set.
"""

from __future__ import annotations

from functools import cache

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError

from stripe_connector.catalog import action_choices as catalog_actions
from workflows import hints, services
from workflows.admin.editor import (
    ConditionField,
    EditorJSONField,
    EditorWidget,
    ForEachInput,
    action_schemas,
    step_name_help,
)
from workflows.models import DEFAULT_MAX_ITEMS, FOR_EACH_CEILING, Match, Step

# The step's own fields that services.check_steps may name (else: a path of the input).
STEP_LEVEL_FIELDS = ("condition", "condition_match", "for_each", "max_items")
# Without these the steps are not checked: their fields say what is wrong already.
CHECKED_FIELDS = ("action_key", "input_mapping", *STEP_LEVEL_FIELDS)
EXTRAS_SECTION = "Run only if / Repeat for each"


def action_choices() -> list:
    return catalog_actions()


@cache
def editor_schemas() -> dict:
    """The editor schema of every action (the catalog does not change while running)."""
    return action_schemas()


class StepForm(forms.ModelForm):
    action_key = forms.ChoiceField(
        label="Action",
        choices=action_choices,
        error_messages={"invalid_choice": "Unknown action '%(value)s': choose one from the list."},
    )

    class Meta:
        model = Step
        fields = (
            "order",
            "name",
            "action_key",
            "input_mapping",
            "on_failure",
            "condition",
            "condition_match",
            "for_each",
            "max_items",
        )
        field_classes = {"input_mapping": EditorJSONField, "condition": ConditionField}
        widgets = {
            "input_mapping": EditorWidget("step"),
            "for_each": ForEachInput(),
            "max_items": forms.NumberInput(
                attrs={"min": 1, "max": FOR_EACH_CEILING, "class": "vIntegerField"}
            ),
        }
        labels = {"condition_match": "Match", "max_items": "At most"}
        help_texts = {
            "name": step_name_help(),
            "condition": "The step runs only if these rules hold over the run's data; "
            "when they do not, it is skipped and the run goes on. Paths start at trigger. "
            "(the event) or steps.&lt;an earlier step&gt;. (its output): click in a rule, "
            "then on a path in the data picker. A skipped step's output is absent "
            "(not_exists holds for it). No rules: the step always runs.",
            "condition_match": "All rules must hold, or any one of them.",
            "for_each": "Repeat this step for each item of a list: a path like "
            "trigger.data.object.lines.data or steps.search.data (click here, then on a "
            "list in the data picker above). Its input then references the item as "
            "{{ item }} (e.g. {{ item.price.id }}) and its position from 0 as "
            "{{ item_index }}; the step's data picker lists the item's fields. One call "
            "per item, each with its own idempotency key; the output is the list of the "
            "items' outputs. Empty: run once.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Left out of a post (a form made before these fields): the step's defaults.
        self.fields["condition_match"].required = False
        self.fields["max_items"].required = False

    def clean_condition_match(self) -> str:
        return self.cleaned_data.get("condition_match") or Match.ALL

    def clean_max_items(self) -> int:
        value = self.cleaned_data.get("max_items")
        return DEFAULT_MAX_ITEMS if value is None else value

    def clean_for_each(self) -> str:
        """The path as typed, without the spaces or braces of a reference around it."""
        value = (self.cleaned_data.get("for_each") or "").strip()
        if value.startswith("{{") and value.endswith("}}"):
            value = value[2:-2].strip()
        return value


class StepFormSet(forms.BaseInlineFormSet):
    """Checks every mapping against its action's schema and the trigger's sample.

    And whether the user saving (``user``, set by ``StepInline.get_formset``) may make
    the workflow act with its connection's key: an error on the steps if not.
    """

    warnings: list[str]
    user = None

    def clean(self) -> None:
        super().clean()
        self.warnings = []
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        forms_in_order = sorted(kept, key=lambda f: f.cleaned_data.get("order") or 0)
        steps = [f.cleaned_data for f in forms_in_order]
        try:
            services.authorize_save(self.user, self.instance, has_steps=bool(steps))
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from None
        if refuse_equal_orders(kept):
            return  # which step runs first is not known: checking them would mislead
        if any(field not in step for step in steps for field in CHECKED_FIELDS):
            return  # field errors already shown (an unknown action, JSON that is not JSON)
        for form, report, hints_found in zip(
            forms_in_order,
            services.check_steps(self.instance, steps),
            hints.step_warnings(steps),
            strict=True,
        ):
            for error in report.errors:
                field, message = error_place(error)
                form.add_error(field, message)
            name = form.cleaned_data.get("name")
            self.warnings += [
                f"Step {name}, {w['field']}: {w['message']}" for w in report.warnings + hints_found
            ]

    def validate_unique(self) -> None:
        """Step names are unique in a workflow: an error on the name of each later twin."""
        named: set[str] = set()
        for form in self.forms:
            name = (getattr(form, "cleaned_data", None) or {}).get("name")
            if not name or self._should_delete_form(form):
                continue
            if name in named:
                form.add_error(
                    "name",
                    f"Another step of this workflow is already named '{name}': "
                    "step names must be unique, references use them.",
                )
            named.add(name)


def refuse_equal_orders(forms_kept: list[forms.Form]) -> bool:
    """An error on the order of each step (in the page's order) whose order an earlier
    one has: steps run by order, so two with the same order would run in an order the
    page does not show. True when there was one."""
    seen: dict[int, str] = {}
    refused = False
    for form in forms_kept:
        order = form.cleaned_data.get("order")
        if order is None:
            continue
        if order in seen:
            form.add_error(
                "order",
                f"{seen[order]} has order {order} too: give each step its own order "
                "(steps run from the lowest).",
            )
            refused = True
        else:
            name = form.cleaned_data.get("name")
            seen[order] = f"Step {name!r}" if name else "Another step"
    return refused


def error_place(error: dict) -> tuple[str, str]:
    """(form field, message) for one of ``services.check_steps``' errors.

    A step-level problem (its field is ``condition``, ``condition_match``,
    ``for_each`` or ``max_items``, or a place in them such as ``condition[1].path``)
    goes on that field; anything else is a path of the input, named in the message
    on the input mapping.
    """
    field = str(error.get("field") or "")
    message = str(error.get("message", ""))
    head = field.split("[", 1)[0].split(".", 1)[0]
    if head in STEP_LEVEL_FIELDS:
        return head, message if field == head else f"{field}: {message}"
    return "input_mapping", f"{field or 'input'}: {message}"


class StepInline(admin.StackedInline):
    model = Step
    form = StepForm
    formset = StepFormSet
    extra = 0
    template = "admin/workflows/workflow/steps_inline.html"
    fieldsets = (
        (None, {"fields": ("order", "name", "action_key", "input_mapping", "on_failure")}),
        (
            EXTRAS_SECTION,
            {
                "classes": ("collapse", "kf-step-extras"),
                "fields": ("condition", "condition_match", "for_each", "max_items"),
            },
        ),
    )

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)  # a new class on every call
        formset.user = request.user
        formset.editor_schemas = editor_schemas()
        return formset
