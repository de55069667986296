"""The admin form for a connection: the key and the signing secret are write-only."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from connections.models import Connection, allowed_api_bases, require_key_for_api_base_change
from connections.services import KeyCheck, apply_key, check_key
from connections.webhooks import store_manual_secret


class ConnectionForm(forms.ModelForm):
    """Pasting a key validates it with Stripe before anything is saved.

    The encrypted fields are not model-form fields at all, so their values are
    never rendered back into the page; the inputs below are empty on every load.
    """

    new_key = forms.CharField(
        label="Stripe key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="A secret (sk_...) or restricted (rk_...) key; it is checked with Stripe and "
        "stored encrypted. Leave blank to keep the current key.",
    )
    new_webhook_secret = forms.CharField(
        label="Webhook signing secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Manual mode only: the endpoint's whsec_... signing secret from Stripe's "
        "dashboard. A replaced secret stays valid for the grace period.",
    )

    # A choice, not free text: only the origins the environment allows (the model's
    # validator checks the value again in full_clean).
    api_base = forms.ChoiceField(
        label="Stripe API base",
        required=False,
        choices=lambda: [("", "Default (STRIPE_API_BASE)")] + [(o, o) for o in allowed_api_bases()],
        error_messages={
            "invalid_choice": "%(value)s is not an allowed Stripe API origin; choose one listed "
            "(STRIPE_API_BASE and STRIPE_API_ALLOWED_BASES in the environment set the list)."
        },
        help_text=Connection._meta.get_field("api_base").help_text,
    )

    class Meta:
        model = Connection
        fields = ["name", "status", "api_version", "api_base", "webhook_mode"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.key_check: KeyCheck | None = None
        if self.instance._state.adding:
            self.fields["new_key"].required = True
            self.fields["new_key"].help_text = (
                "A secret (sk_...) or restricted (rk_...) key; it is checked with Stripe and "
                "stored encrypted. It is never shown again."
            )

    def clean(self) -> dict:
        data = super().clean()
        key = data.get("new_key")
        if "api_base" in data and not self.instance._state.adding:
            try:
                require_key_for_api_base_change(
                    self.instance.api_base, data["api_base"], key, "new_key"
                )
            except ValidationError as exc:
                self.add_error(None, exc)
                return data
        if key and "api_base" not in self.errors:  # never send the key to a refused base
            try:
                self.key_check = check_key(
                    key, api_version=data.get("api_version"), api_base=data.get("api_base") or ""
                )
            except ValidationError as exc:
                self.add_error("new_key", exc)
        secret = data.get("new_webhook_secret")
        if secret and data.get("webhook_mode") != Connection.WebhookMode.MANUAL:
            self.add_error(
                "new_webhook_secret",
                "Only manual mode takes a pasted secret; automatic mode stores the one Stripe "
                "returns when the endpoint is created.",
            )
        elif secret:
            try:
                store_manual_secret(Connection(), secret)  # format check only
            except ValidationError as exc:
                self.add_error("new_webhook_secret", exc)
        return data

    def save(self, commit: bool = True) -> Connection:
        connection = super().save(commit=False)
        if self.key_check is not None:
            apply_key(connection, self.cleaned_data["new_key"], self.key_check)
        if self.cleaned_data.get("new_webhook_secret"):
            store_manual_secret(connection, self.cleaned_data["new_webhook_secret"])
        if commit:
            connection.save()
        return connection
