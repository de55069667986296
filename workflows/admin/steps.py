"""The steps of a workflow in its admin page: form, formset checks and inline.

A step's input is edited in a form derived from its action's input schema, beside
a data picker, over the raw JSON (``workflows/admin/editor.py``, ``editor.js``).
"""

from __future__ import annotations

from functools import cache

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError

from stripe_connector.catalog import action_choices as catalog_actions
from workflows import services
from workflows.admin.editor import EditorJSONField, EditorWidget, action_schemas, step_name_help
from workflows.models import Step


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
        fields = ("order", "name", "action_key", "input_mapping", "on_failure")
        field_classes = {"input_mapping": EditorJSONField}
        widgets = {"input_mapping": EditorWidget("step")}
        help_texts = {"name": step_name_help()}


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
        forms_in_order = sorted(
            (f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")),
            key=lambda f: f.cleaned_data.get("order") or 0,
        )
        steps = [f.cleaned_data for f in forms_in_order]
        try:
            services.authorize_save(self.user, self.instance, has_steps=bool(steps))
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from None
        if any("action_key" not in step or "input_mapping" not in step for step in steps):
            return  # field errors already shown (an unknown action, JSON that is not JSON)
        for form, report in zip(
            forms_in_order, services.check_steps(self.instance, steps), strict=True
        ):
            for error in report.errors:
                form.add_error("input_mapping", f"{error['field'] or 'input'}: {error['message']}")
            name = form.cleaned_data.get("name")
            self.warnings += [f"Step {name}, {w['field']}: {w['message']}" for w in report.warnings]

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


class StepInline(admin.StackedInline):
    model = Step
    form = StepForm
    formset = StepFormSet
    extra = 0
    template = "admin/workflows/workflow/steps_inline.html"
    fields = ("order", "name", "action_key", "input_mapping", "on_failure")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)  # a new class on every call
        formset.user = request.user
        formset.editor_schemas = editor_schemas()
        return formset
