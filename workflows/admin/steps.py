"""The steps of a workflow in its admin page: form, formset checks and inline."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html, format_html_join

from konnectify.platform.forms import BoundedJSONField
from stripe_connector.catalog import action_choices as catalog_actions
from workflows import services, tryout
from workflows.models import Step


def action_choices() -> list:
    return catalog_actions()


class StepForm(forms.ModelForm):
    action_key = forms.ChoiceField(label="Action", choices=action_choices)

    class Meta:
        model = Step
        fields = ("order", "name", "action_key", "input_mapping", "on_failure")
        field_classes = {"input_mapping": BoundedJSONField}


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
        if any("action_key" not in step for step in steps):
            return  # field errors already shown
        for form, report in zip(
            forms_in_order, services.check_steps(self.instance, steps), strict=True
        ):
            for error in report.errors:
                form.add_error("input_mapping", f"{error['field'] or 'input'}: {error['message']}")
            name = form.cleaned_data.get("name")
            self.warnings += [f"Step {name}, {w['field']}: {w['message']}" for w in report.warnings]


class StepInline(admin.StackedInline):
    model = Step
    form = StepForm
    formset = StepFormSet
    extra = 0
    fields = (
        "order",
        "name",
        "action_key",
        "input_mapping",
        "on_failure",
        "action_fields",
        "paths",
    )
    readonly_fields = ("action_fields", "paths")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)  # a new class on every call
        formset.user = request.user
        return formset

    @admin.display(description="The action's fields")
    def action_fields(self, step: Step) -> str:
        rows = tryout.action_fields(step.action_key) if step.pk else []
        if not rows:
            return "Choose an action and save to see its fields."
        return format_html(
            "<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Help</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((r["name"], r["type"], "yes" if r["required"] else "", r["help"]) for r in rows),
            ),
        )

    @admin.display(description="Paths you can reference")
    def paths(self, step: Step) -> str:
        if not step.pk:
            return "-"
        items = tryout.available_paths(step)
        return format_html(
            "<div style='max-height:14em;overflow:auto'>{}</div>",
            format_html_join("", "<code>{{{{ {} }}}}</code> <small>{}</small><br>", items),
        )
