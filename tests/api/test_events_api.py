"""/api/v1/events/: the inbox, its filters, one event's payload, dispatch again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.inbox import ingest
from connections.models import Connection, InboxEvent
from tests.api.conftest import field_errors, grant, token_client
from tests.support.factories import event_envelope, inbox_event
from workflows.engine import create_run
from workflows.models import Run, RunStatus, Step, Workflow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/events/"


def make_event(connection, number: int, event_type: str = "customer.created", **fields):
    """A dispatched inbox event whose Stripe id is ``evt_<number>``."""
    envelope = event_envelope(event_type, id=f"evt_{number}", data_object={"id": "cus_1"})
    return inbox_event(connection, envelope, **{"status": InboxEvent.Status.DISPATCHED, **fields})


@pytest.fixture
def event(connection) -> InboxEvent:
    return make_event(connection, 1)


def endpoints(event) -> list[tuple[str, str]]:
    return [
        ("get", LIST),
        ("get", f"{LIST}{event.pk}/"),
        ("post", f"{LIST}{event.pk}/dispatch-again/"),
    ]


def test_every_endpoint_needs_authentication(anonymous, event):
    for method, url in endpoints(event):
        assert getattr(anonymous, method)(url).status_code == 401, url


def test_every_endpoint_needs_a_model_permission(no_perms, event):
    for method, url in endpoints(event):
        assert getattr(no_perms, method)(url).status_code == 403, url


def test_a_read_only_token_may_not_dispatch(read_only_api, event):
    for method, url in endpoints(event):
        expected = 200 if method == "get" else 403
        assert getattr(read_only_api, method)(url).status_code == expected, url
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.DISPATCHED


def test_dispatching_again_needs_the_change_permission(api_user, event):
    grant(api_user, "view_inboxevent")
    client = token_client(api_user)
    assert client.get(LIST).status_code == 200
    assert client.post(f"{LIST}{event.pk}/dispatch-again/").status_code == 403


def test_the_list_has_no_payload_and_the_detail_has_it(superuser_api, event, connection):
    item = superuser_api.get(LIST).json()["results"][0]
    assert item["stripe_event_id"] == "evt_1" and item["connection"] == str(connection.pk)
    assert "payload" not in item
    body = superuser_api.get(f"{LIST}{event.pk}/").json()
    assert body["payload"]["data"]["object"]["id"] == "cus_1"


def test_the_list_filters(superuser_api, event, connection):
    other = Connection.objects.create(name="Other", mode="test")
    paid = make_event(other, 2, "invoice.paid", status=InboxEvent.Status.IGNORED)
    old = make_event(connection, 3, created=timezone.now() - timedelta(days=5))
    InboxEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=5))

    def ids(**params):
        response = superuser_api.get(LIST, params)
        assert response.status_code == 200, response.content
        return sorted(e["id"] for e in response.json()["results"])

    assert ids(connection=str(other.pk)) == [paid.pk]
    assert ids(type="customer.created") == sorted([event.pk, old.pk])
    assert ids(status="ignored") == [paid.pk]
    day_ago = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(created_before=day_ago) == [old.pk]
    assert ids(received_after=day_ago) == sorted([event.pk, paid.pk])
    response = superuser_api.get(LIST, {"status": "lost", "connection": "42"})
    assert set(field_errors(response)) == {"connection", "status"}  # every bad filter at once
    assert list(field_errors(superuser_api.get(LIST, {"status": "lost"}))) == ["status"]


def test_the_list_is_paginated_with_a_bounded_page_size(superuser_api, connection):
    for number in range(5):
        make_event(connection, 100 + number)
    body = superuser_api.get(LIST, {"page_size": 2, "page": 2}).json()
    assert body["count"] == 5 and len(body["results"]) == 2
    assert body["next"] and body["previous"]
    past_the_end = superuser_api.get(LIST, {"page": 9, "page_size": 2})
    assert field_errors(past_the_end) == {"page": "There is no page 9: page 9 of 3."}


def test_dispatch_again_answers_what_it_did_for_each_workflow(
    superuser_api, event, connection, django_capture_on_commit_callbacks
):
    def waiting(name: str, **fields) -> Workflow:
        workflow = Workflow.objects.create(
            name=name, connection=connection, trigger_key="customer.created", **fields
        )
        Step.objects.create(
            workflow=workflow, order=1, name="find", action_key="find_customer",
            input_mapping={"id": "{{ trigger.data.object.id }}"},
        )  # fmt: skip
        return workflow

    fresh = waiting("Fresh", active=True)
    ran = waiting("Ran before", active=True)
    picky = waiting("Picky", active=True, filters=[
        {"path": "data.object.id", "op": "equals", "value": "cus_other"}
    ])  # fmt: skip
    off = waiting("Off")
    earlier = create_run(ran, event=event, enqueue=False)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = superuser_api.post(f"{LIST}{event.pk}/dispatch-again/")

    assert response.status_code == 200, response.content
    found = {item["workflow"]: item for item in response.json()["workflows"]}
    created = Run.objects.get(workflow=fresh, event=event)
    skipped = Run.objects.get(workflow=picky, event=event)
    assert (found[fresh.pk]["result"], found[fresh.pk]["run"]) == ("created", created.pk)
    assert (found[ran.pk]["result"], found[ran.pk]["run"]) == ("already_ran", earlier.pk)
    assert (found[picky.pk]["result"], found[picky.pk]["run"]) == ("filtered_out", skipped.pk)
    assert skipped.status == RunStatus.SKIPPED
    assert (found[off.pk]["result"], found[off.pk]["run"]) == ("inactive", None)
    assert response.json()["message"] == "1 run(s) created for 4 workflow(s)."
    queued = [c for c in callbacks if c.__qualname__ == "enqueue_run"]
    assert len(queued) == 1  # only the new run is queued (the skipped one is only counted)
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.DISPATCHED


def test_dispatch_again_refuses_a_disabled_connection(superuser_api, event, connection):
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.DISABLED)
    response = superuser_api.post(f"{LIST}{event.pk}/dispatch-again/")
    assert response.status_code == 409
    assert "disabled" in response.json()["message"]


def test_a_mode_mismatch_event_is_not_dispatched(superuser_api, connection):
    event = make_event(connection, 7, livemode=True, status=InboxEvent.Status.MODE_MISMATCH)
    response = superuser_api.post(f"{LIST}{event.pk}/dispatch-again/")
    assert response.status_code == 409
    assert response.json()["type"] == "conflict"


def test_a_pruned_event_shows_when_and_is_not_dispatched_again(superuser_api, connection):
    pruned_at = timezone.now()
    event = make_event(connection, 8, payload={}, payload_pruned_at=pruned_at)

    shown = superuser_api.get(f"{LIST}{event.pk}/").json()
    response = superuser_api.post(f"{LIST}{event.pk}/dispatch-again/")

    assert shown["payload"] == {}
    assert shown["payload_pruned_at"] is not None
    assert response.status_code == 409
    assert "payload was pruned" in response.json()["message"]
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.DISPATCHED


def test_events_are_found_by_stripe_event_id_and_by_their_objects_id(superuser_api, connection):
    invoice = event_envelope("invoice.paid", data_object={"id": "in_1Paid", "object": "invoice"})
    paid, _ = ingest(connection, invoice)
    customer, _ = ingest(connection, event_envelope(data_object={"id": "cus_1Found"}))

    def ids(**params):
        response = superuser_api.get(LIST, params)
        assert response.status_code == 200, response.content
        return [event["id"] for event in response.json()["results"]]

    assert ids(object_id="in_1Paid") == [paid.pk]
    assert ids(object_id="cus_1Found") == [customer.pk]
    assert ids(stripe_event_id=invoice["id"]) == [paid.pk]
    assert superuser_api.get(f"{LIST}{paid.pk}/").json()["object_id"] == "in_1Paid"
