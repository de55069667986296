"""Test a step: pretty JSON, its output recorded for the next step, the made-up sample's hint."""

import json

import pytest
from django.urls import reverse

from stripe_connector.catalog import get_trigger
from workflows import tryout
from workflows.models import Run, Step

from .conftest import API, make_workflow

pytestmark = pytest.mark.django_db

TWO_STEPS = [
    ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
    ("tag", "update_customer", {"id": "{{ steps.find.id }}", "metadata": {"seen": "yes"}}),
]
SAMPLE_ID = get_trigger("customer.updated").sample["data"]["object"]["id"]


def customer(cid: str, **fields) -> dict:
    return {"id": cid, "object": "customer", "email": None, "livemode": False, **fields}


def page_url(workflow) -> str:
    return reverse("admin:workflows_test_step", args=[workflow.pk])


def test_a_successful_test_records_the_output_on_the_step(connection, stripe, clock):
    workflow = make_workflow(connection, "customer.updated", TWO_STEPS[:1])
    stripe.get(f"{API}/v1/customers/{SAMPLE_ID}", json=customer(SAMPLE_ID))

    result = tryout.test_step(workflow.steps.get())

    assert result["ok"] is True
    step = workflow.steps.get()
    assert step.sample_output == {**customer(SAMPLE_ID), "found": True}  # find_customer's output
    assert step.sample_output_at == clock.now
    assert not Run.objects.exists()


def test_a_failed_test_records_nothing(connection, stripe):
    workflow = make_workflow(connection, "customer.updated", TWO_STEPS[:1])
    stripe.get(
        f"{API}/v1/customers/{SAMPLE_ID}",
        status=500,
        json={"error": {"type": "api_error", "message": "Boom"}},
    )

    result = tryout.test_step(workflow.steps.get())

    assert result["ok"] is False
    assert workflow.steps.get().sample_output_at is None


def test_step_two_is_tested_with_step_ones_recorded_output(connection, stripe):
    workflow = make_workflow(connection, "customer.updated", TWO_STEPS)
    find, tag = workflow.steps.order_by("order")
    stripe.get(f"{API}/v1/customers/{SAMPLE_ID}", json=customer("cus_Found"))
    stripe.post(
        f"{API}/v1/customers/cus_Found", json=customer("cus_Found", metadata={"seen": "yes"})
    )

    assert tryout.test_step(find)["ok"] is True
    result = tryout.test_step(tag)

    assert result["ok"] is True, result["error"]
    assert result["input"]["id"] == "cus_Found"
    assert "/v1/customers/cus_Found" in stripe.calls[1].request.url


def test_step_two_before_step_one_names_the_untested_step_and_sends_nothing(connection, stripe):
    workflow = make_workflow(connection, "customer.updated", TWO_STEPS)
    tag = workflow.steps.get(name="tag")

    result = tryout.test_step(tag)

    assert result["ok"] is False
    assert result["error"]["type"] == "untested_step"
    assert result["error"]["steps"] == ["find"]
    assert "Test step find first" in result["error"]["message"]
    assert len(stripe.calls) == 0


def test_a_later_steps_output_is_not_offered_to_an_earlier_step(connection, stripe):
    steps = [
        ("first", "find_customer", {"id": "{{ steps.second.id }}"}),
        ("second", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
    ]
    workflow = make_workflow(connection, "customer.updated", steps)
    Step.objects.filter(name="second").update(sample_output={"id": "cus_Later"})

    result = tryout.test_step(workflow.steps.get(name="first"))

    assert result["ok"] is False
    assert "steps.second.id" in result["error"]["message"]
    assert len(stripe.calls) == 0


@pytest.mark.parametrize("code", [{"code": "resource_missing", "param": "id"}, {}])
def test_the_made_up_sample_missing_in_stripe_gives_a_hint_to_load_one(
    connection, stripe, staff_client, code
):
    workflow = make_workflow(connection, "customer.updated", TWO_STEPS[:1])
    error = {"type": "invalid_request_error", "message": f"No such customer: '{SAMPLE_ID}'"}
    missing = {"error": {**error, **code}}  # a 404 is a missing object, with or without code
    stripe.get(f"{API}/v1/customers/{SAMPLE_ID}", status=404, json=missing)

    page = staff_client.post(page_url(workflow), {"step": workflow.steps.get().pk})

    assert page.context["result"]["hint"] == tryout.CATALOG_SAMPLE_HINT
    content = page.content.decode()
    assert "made-up example" in content
    load = reverse("admin:workflows_workflow_load_sample", args=[workflow.pk])
    assert f'action="{load}" id="hint-load-sample"' in content


def test_a_missing_object_with_a_loaded_sample_gives_no_hint(connection, stripe):
    workflow = make_workflow(connection, "customer.updated", TWO_STEPS[:1])
    loaded = {"id": "evt_real", "type": "customer.updated", "data": {"object": {"id": "cus_Gone"}}}
    workflow.sample_event = loaded
    workflow.save()
    stripe.get(
        f"{API}/v1/customers/cus_Gone",
        status=404,
        json={
            "error": {"type": "invalid_request_error", "code": "resource_missing", "message": "x"}
        },
    )

    result = tryout.test_step(workflow.steps.get())

    assert result["error"]["code"] == "resource_missing"
    assert result["hint"] == ""


def test_load_sample_event_from_the_test_page_comes_back_to_it(connection, stripe, staff_client):
    workflow = make_workflow(connection, "customer.updated", TWO_STEPS[:1])
    stripe.get(f"{API}/v1/events", json={"object": "list", "data": [], "has_more": False})
    load = reverse("admin:workflows_workflow_load_sample", args=[workflow.pk])

    assert f'action="{load}"' in staff_client.get(page_url(workflow)).content.decode()
    response = staff_client.post(load, {"back": "test_step"})

    assert response["Location"] == page_url(workflow)


def test_output_and_errors_are_shown_as_json_not_python(connection, stripe, staff_client):
    workflow = make_workflow(connection, "customer.updated", TWO_STEPS)
    find, tag = workflow.steps.order_by("order")
    stripe.get(f"{API}/v1/customers/{SAMPLE_ID}", json=customer(SAMPLE_ID, delinquent=False))

    page = staff_client.post(page_url(workflow), {"step": find.pk})

    shown = page.context["shown"]
    assert json.loads(shown["output"]) == {**customer(SAMPLE_ID, delinquent=False), "found": True}
    content = page.content.decode()
    assert "&quot;email&quot;: null" in content and "&quot;delinquent&quot;: false" in content
    assert "None" not in shown["output"] and "'" not in shown["output"]
    # After a success the next step is the one preselected.
    assert page.context["next_step"] == tag

    Step.objects.filter(pk=find.pk).update(sample_output=None, sample_output_at=None)
    page = staff_client.post(page_url(workflow), {"step": tag.pk})
    assert json.loads(page.context["shown"]["error"])["type"] == "untested_step"
    assert "&quot;type&quot;: &quot;untested_step&quot;" in page.content.decode()


def test_the_test_page_links_back_to_the_workflow_and_shows_what_was_tested(
    connection, stripe, staff_client
):
    workflow = make_workflow(connection, "customer.updated", TWO_STEPS)
    stripe.get(f"{API}/v1/customers/{SAMPLE_ID}", json=customer(SAMPLE_ID))
    change = reverse("admin:workflows_workflow_change", args=[workflow.pk])

    content = staff_client.get(page_url(workflow)).content.decode()
    assert f'href="{change}" id="back-to-workflow"' in content
    assert content.count("not tested yet") == 2

    staff_client.post(page_url(workflow), {"step": workflow.steps.get(name="find").pk})
    content = staff_client.get(page_url(workflow)).content.decode()
    assert content.count("not tested yet") == 1
    assert page_url(workflow) in staff_client.get(change).content.decode()
