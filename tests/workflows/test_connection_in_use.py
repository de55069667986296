"""A connection that workflows use cannot be deleted, and its endpoint stays in Stripe."""

import pytest

from connections.models import Connection
from connections.services import ConnectionInUse, delete_connection
from tests.workflows.conftest import API, make_workflow

pytestmark = pytest.mark.django_db


def test_deleting_a_connection_in_use_changes_nothing_here_or_in_stripe(connection, stripe):
    make_workflow(connection, "customer.created", [("find", "find_customer", {"id": "cus_1"})])

    with pytest.raises(ConnectionInUse, match=r"customer\.created workflow"):
        delete_connection(connection)

    # ``stripe`` is strict: any call (such as deleting the endpoint) would have failed the test.
    assert len(stripe.calls) == 0
    connection.refresh_from_db()
    assert connection.webhook_endpoint_id == "we_1Workflows"


def test_a_connection_no_workflow_uses_is_deleted_with_its_endpoint(connection, stripe):
    stripe.delete(
        f"{API}/v1/webhook_endpoints/we_1Workflows",
        json={"id": "we_1Workflows", "object": "webhook_endpoint", "deleted": True},
    )

    assert delete_connection(connection) == ""
    assert not Connection.objects.filter(pk=connection.pk).exists()
