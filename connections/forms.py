"""The admin form for a connection: the key and the signing secret are write-only."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from connections.models import Connection, allowed_api_bases
from connections.services import KeyCheck, save_connection, validate_connection_write


class ConnectionForm(forms.ModelForm):
    """Pasting a key validates it with Stripe before anything is saved.

    The encrypted fields are not model-form fields at all, so their values are
    never rendered back into the page; the inputs below are empty on every load.
    """

    new_key = forms.CharField(
        label="API key",
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
        label="API base",
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
        if not self.instance._state.adding:
            self.fields["new_key"].label = "New API key"
        if self.instance._state.adding:
            self.fields["new_key"].required = True
            self.fields["new_key"].help_text = (
                "A secret (sk_...) or restricted (rk_...) key; it is checked with Stripe and "
                "stored encrypted. It is never shown again."
            )

    def clean(self) -> dict:
        """``services.validate_connection_write``: the rules the API applies too."""
        data = super().clean()
        if "api_base" in self.errors:  # never send the key to a refused base
            return data
        try:
            self.key_check = validate_connection_write(
                self.instance,
                key=data.get("new_key"),
                webhook_mode=data.get("webhook_mode", ""),
                webhook_secret=data.get("new_webhook_secret"),
                api_version=data.get("api_version"),
                api_base=data.get("api_base"),
                key_field="new_key",
                secret_field="new_webhook_secret",
            )
        except ValidationError as exc:
            self.add_error(None, exc)
        return data

    def save(self, commit: bool = True) -> Connection:
        connection = super().save(commit=False)
        if commit:
            self.save_validated(connection)
        return connection

    def save_validated(self, connection: Connection) -> Connection:
        """``services.save_connection`` with the key and secret checked in ``clean``."""
        return save_connection(
            connection,
            key=self.cleaned_data.get("new_key"),
            key_check=self.key_check,
            webhook_secret=self.cleaned_data.get("new_webhook_secret"),
        )
