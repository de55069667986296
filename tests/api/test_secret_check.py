"""The check that no response carries a secret (tests/api/conftest.py) does catch a leak."""

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from connections.models import Connection
from tests.api.conftest import SECRET_KEY

pytestmark = pytest.mark.django_db


class LeakyView(APIView):
    """What must never exist: a view that returns a connection's secrets."""

    permission_classes = [AllowAny]

    def get(self, request, field: str):
        connection = Connection.objects.get()
        return Response({"oops": getattr(connection, field)})


urlpatterns = [path("leak/<str:field>/", LeakyView.as_view())]


@pytest.mark.parametrize("field", ["secret_key", "webhook_secret", "previous_webhook_secret"])
def test_it_flags_a_response_with_a_connections_secret(
    anonymous, connection, secret_scanner, field
):
    with override_settings(ROOT_URLCONF=__name__):
        assert anonymous.get(f"/leak/{field}/").status_code == 200
    leaks = secret_scanner.leaks()
    assert len(leaks) == 1
    assert leaks[0].startswith(f"GET /leak/{field}/ -> 200 contains ")
    secret_scanner.forget()  # this test leaked on purpose; the check must not fail it


def test_it_flags_the_secret_of_a_connection_deleted_since(anonymous, connection, secret_scanner):
    with override_settings(ROOT_URLCONF=__name__):
        anonymous.get("/leak/secret_key/")
    connection.delete()
    assert secret_scanner.leaks() == [
        f"GET /leak/secret_key/ -> 200 contains {SECRET_KEY[:8]}...{SECRET_KEY[-4:]}"
    ]
    secret_scanner.forget()


def test_a_clean_response_is_not_flagged(superuser_api, connection, secret_scanner):
    assert superuser_api.get(f"/api/v1/connections/{connection.pk}/").status_code == 200
    assert secret_scanner.responses
    assert secret_scanner.leaks() == []
