"""Admin for credentials of HTTP request steps: secrets are write-only, shown as a mask.

The encrypted fields are not model-form fields: their values are never rendered
back into the page; the password inputs are empty on every load and a blank
input keeps what is stored.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from connections.credentials import Credential


class CredentialForm(forms.ModelForm):
    new_secret = forms.CharField(
        label="Secret",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The bearer token, basic auth password or API key; stored encrypted and "
        "never shown again. Leave blank to keep the current one.",
    )
    new_signing_secret = forms.CharField(
        label="Signing secret",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Optional: requests are signed with it in a Konnectify-Signature header "
        "(Stripe's webhook scheme, t=(unix time),v1=(hex HMAC-SHA256 of 't.body')). Leave blank "
        "to keep the current one.",
    )
    remove_signing_secret = forms.BooleanField(
        required=False, help_text="Stop signing requests sent with this credential."
    )

    class Meta:
        model = Credential
        fields = ["name", "kind", "username", "header_name", "allowed_hosts", "description"]
        widgets = {"allowed_hosts": forms.Textarea(attrs={"rows": 3, "cols": 40})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:
            self.fields["new_secret"].required = True
            self.fields["new_secret"].help_text = (
                "The bearer token, basic auth password or API key; stored encrypted and never "
                "shown again."
            )
            del self.fields["remove_signing_secret"]

    def _post_clean(self) -> None:
        """Put the new secrets on the instance before the model's validation runs."""
        secret = self.cleaned_data.get("new_secret")
        if secret:
            self.instance.secret = secret
        signing = self.cleaned_data.get("new_signing_secret")
        if signing:
            self.instance.signing_secret = signing
        elif self.cleaned_data.get("remove_signing_secret"):
            self.instance.signing_secret = ""
        super()._post_clean()
        for name, target in (("secret", "new_secret"), ("signing_secret", "new_signing_secret")):
            if name in self.errors:
                self.add_error(target, self.errors.pop(name))


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    form = CredentialForm
    list_display = ["name", "kind", "secret_hint", "signed", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name", "description"]
    readonly_fields = ["secret_hint", "signed", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "description"]}),
        (
            "Secret",
            {
                "fields": ["username", "header_name", "new_secret", "secret_hint"],
                "description": "Bearer token: the secret only. Basic auth: user name and "
                "password. API key header: the header's name and the key.",
            },
        ),
        (
            "Where it may be sent",
            {
                "fields": ["allowed_hosts"],
                "description": "Requests to any other host are refused; a redirect to "
                "another origin drops the secret and the signature.",
            },
        ),
        ("Signing", {"fields": ["new_signing_secret", "remove_signing_secret", "signed"]}),
        ("Dates", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return [
                (name, {**options, "fields": [f for f in options["fields"] if f not in (
                    "remove_signing_secret", "secret_hint", "signed", "created_at", "updated_at"
                )]})
                for name, options in fieldsets
                if name != "Dates"
            ]  # fmt: skip
        return fieldsets

    @admin.display(description="signed", boolean=True)
    def signed(self, credential: Credential) -> bool:
        return bool(credential.signing_secret)
