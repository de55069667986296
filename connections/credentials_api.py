"""REST API for credentials of HTTP request steps: ``/api/v1/credentials/``.

``secret`` and ``signing_secret`` are write-only: answers carry ``secret_hint``
and ``has_signing_secret`` only. The model's ``clean`` decides what each kind
needs, as in admin. Reading needs ``view_credential``, writing ``add``/``change``/
``delete_credential`` (ModelPermissions); sending requests with a credential is
the separate ``use_credential`` right (``connections.permissions``).
"""

from __future__ import annotations

import re

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, viewsets

from connections.credentials import Credential
from konnectify.platform.api.base import IntegerIds, JsonOnly, KnownQueryParameters, StrictFields


class CredentialFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Credential.Kind.choices)

    class Meta:
        model = Credential
        fields = ["kind"]


class HostListField(serializers.ListField):
    """``allowed_hosts``: a list of hosts in the API, one per line in the model."""

    def to_representation(self, value: str) -> list[str]:
        return [entry for entry in re.split(r"[\s,]+", value or "") if entry]

    def to_internal_value(self, data) -> str:
        return "\n".join(super().to_internal_value(data))


class CredentialSerializer(StrictFields, serializers.ModelSerializer):
    """A credential; ``secret`` and ``signing_secret`` are accepted, never returned."""

    secret = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        max_length=4000,
        style={"input_type": "password"},
        help_text="The bearer token, basic auth password or API key; stored encrypted and "
        "never returned. Required on create; on update only to replace it.",
    )
    signing_secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=4000,
        style={"input_type": "password"},
        help_text="Optional: requests are signed with it (Konnectify-Signature, Stripe's "
        'webhook scheme); never returned. "" removes it.',
    )
    allowed_hosts = HostListField(
        child=serializers.CharField(max_length=300),
        required=False,
        max_length=100,
        help_text="The only hosts the secret is sent to: crm.example.com (any port), "
        "crm.example.com:8443 (that port only), or *.example.com for its subdomains. "
        "Required on create; a request to another host is refused before anything is sent.",
    )
    has_signing_secret = serializers.SerializerMethodField(
        help_text="Whether requests sent with this credential are signed."
    )

    class Meta:
        model = Credential
        fields = [
            "id",
            "name",
            "kind",
            "username",
            "header_name",
            "secret",
            "secret_hint",
            "signing_secret",
            "has_signing_secret",
            "allowed_hosts",
            "description",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["secret_hint"]

    def get_has_signing_secret(self, credential: Credential) -> bool:
        return bool(credential.signing_secret)

    def validate(self, attrs: dict) -> dict:
        """The model's rules (``Credential.clean`` and field validators), as admin applies."""
        if self.instance is None and not attrs.get("secret"):
            raise exceptions.ValidationError({"secret": ["This field is required."]})
        candidate = self.instance or Credential()
        for name, value in attrs.items():
            setattr(candidate, name, value)
        try:
            candidate.full_clean(validate_unique=False)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        return attrs


@extend_schema(tags=["credentials"])
@extend_schema_view(
    list=extend_schema(summary="List credentials of HTTP request steps"),
    retrieve=extend_schema(summary="One credential (its secrets are never returned)"),
    create=extend_schema(summary="Store a credential (its secrets encrypted)"),
    update=extend_schema(summary="Replace a credential's settings"),
    partial_update=extend_schema(summary="Change some of a credential's settings"),
    destroy=extend_schema(summary="Delete a credential (steps naming it then fail)"),
)
class CredentialViewSet(IntegerIds, KnownQueryParameters, JsonOnly, viewsets.ModelViewSet):
    """Credentials that HTTP request steps choose by name: bearer, basic auth or API key."""

    queryset = Credential.objects.all()
    serializer_class = CredentialSerializer
    filterset_class = CredentialFilter
