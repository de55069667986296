"""Export, import and Copy to a live connection (workflows.portable)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from connections.credentials import Credential
from connections.models import Connection
from tests.support.factories import make_connection
from workflows import portable, services
from workflows.models import Step, Workflow

pytestmark = pytest.mark.django_db

LIVE_KEY = (
    "sk_live_" + "51PortableLiveKey00000000000000000000000000000000wxyz"
)  # built, not a literal key
OTHER_KEY = "sk_test_51PortableOtherKey0000000000000000000000000000000abcd"
CRM_SECRET = "crm-token-never-exported-0123456789"
TEST_PRICE = "price_1TestPrice000001"
TEST_CUSTOMER = "cus_TestCustomer0001"
FILTERED_CUSTOMER = "cus_TestFiltered0001"
TEMPLATE_CUSTOMER = "cus_InTemplate0001"


@pytest.fixture
def user(django_user_model):
    user = django_user_model.objects.create_user("builder", password="x-123456!")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["use_connection", "use_credential"])
    )
    return django_user_model.objects.get(pk=user.pk)  # permissions cache empty


@pytest.fixture
def crm(db) -> Credential:
    return Credential.objects.create(name="crm", secret=CRM_SECRET, allowed_hosts="crm.example.com")


@pytest.fixture
def live(db) -> Connection:
    return make_connection(
        name="Live account",
        secret_key=LIVE_KEY,
        webhook_secret="whsec_portable_live_0123456789abcdef",
        mode=Connection.Mode.LIVE,
        account_id="acct_1Workflows",
    )


@pytest.fixture
def other(db) -> Connection:
    return make_connection(
        name="Another test account",
        secret_key=OTHER_KEY,
        webhook_secret="whsec_portable_other_0123456789abcdef",
        account_id="acct_1Other",
    )


def add_step(workflow: Workflow, order: int, name: str, action_key: str, mapping: dict, **fields):
    return Step.objects.create(
        workflow=workflow,
        order=order,
        name=name,
        action_key=action_key,
        input_mapping=mapping,
        **fields,
    )


@pytest.fixture
def workflow(connection, crm, user) -> Workflow:
    """Every part a document carries: filters, a condition, a for-each list, an HTTP step
    naming its credential, literal Stripe ids, text beyond ASCII; and what it must not
    carry: an owner, samples, the active state."""
    workflow = services.save_workflow(
        Workflow(
            name="Bill new invoices — ünïcode",
            description="Adds an item per line; tells the CRM.",
            connection=connection,
            trigger_key="invoice.created",
            filters=[
                {"path": "data.object.customer", "op": "not_equals", "value": FILTERED_CUSTOMER},
                {"path": "data.object.account_country", "op": "in", "value": ["US", "acct_1X"]},
            ],
            alert_emails=["ops@example.com"],
            alert_chat=False,
            active=True,
            owner=user,
            sample_event={"id": "evt_SampleEventNotExported", "data": {"object": {}}},
        )
    )
    add_step(workflow, 1, "find", "find_customer", {"id": "{{ trigger.data.object.customer }}"})
    add_step(
        workflow,
        2,
        "item",
        "create_invoice_item",
        {
            "customer": "{{ steps.find.id }}",
            "invoice": "{{ trigger.data.object.id }}",
            "pricing": {"price": TEST_PRICE},
            "description": "{{ item.description | default('" + TEMPLATE_CUSTOMER + "') }}",
            "metadata": {"line": "{{ item_index }}", "account": "acct_1Workflows"},
        },
        condition=[
            {"path": "trigger.data.object.amount_due", "op": "gt", "value": 0},
            {"path": "trigger.data.object.customer", "op": "not_equals", "value": TEST_CUSTOMER},
        ],
        condition_match="any",
        for_each="trigger.data.object.lines.data",
        max_items=20,
        sample_output={"id": "ii_SampleOutputNotExported"},
        sample_output_at=timezone.now(),
    )
    add_step(
        workflow,
        3,
        "notify",
        "http_request",
        {
            "method": "POST",
            "url": "https://crm.example.com/hooks/invoice",
            "credential": "crm",
            "json_body": {"invoice": "{{ trigger.data.object.id }}"},
        },
        on_failure=Step.OnFailure.CONTINUE,
        condition=[{"path": "steps.find.email", "op": "exists"}],
    )
    add_step(
        workflow,
        4,
        "tag",
        "update_customer",
        {"id": TEST_CUSTOMER, "metadata": {"plan": "pro", "price": TEST_PRICE, "coupon": "SUMMER"}},
    )
    return workflow


# -- export ------------------------------------------------------------------------------


def test_the_export_carries_the_workflow_and_nothing_of_its_account(workflow, connection):
    text = portable.export_text(workflow)
    document = json.loads(text)
    assert (document["format"], document["version"]) == ("konnectify.workflow", 1)
    assert set(document) == {"format", "version", "workflow"}
    part = document["workflow"]
    assert set(part) == set(portable.WORKFLOW_KEYS)
    assert [step["name"] for step in part["steps"]] == ["find", "item", "notify", "tag"]
    assert all(set(step) == set(portable.STEP_KEYS) for step in part["steps"])
    item = part["steps"][1]
    assert item["condition_match"] == "any"
    assert (item["for_each"], item["max_items"]) == ("trigger.data.object.lines.data", 20)
    assert part["steps"][2]["input"]["credential"] == "crm"  # the name, not the secret
    for absent in (
        CRM_SECRET,
        connection.secret_key,
        connection.webhook_secret,
        str(connection.pk),
        connection.name,
        "builder",  # the owner
        "evt_SampleEventNotExported",
        "ii_SampleOutputNotExported",
        '"active"',
        '"id": ' + str(workflow.pk),
    ):
        assert absent not in text, absent


def test_the_export_is_the_same_bytes_each_time_sorted_and_readable(workflow):
    text = portable.export_text(workflow)
    assert text == portable.export_text(Workflow.objects.get(pk=workflow.pk))
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert "ünïcode" in text and "\\u" not in text
    assert text.index('"alert_chat"') < text.index('"name"') < text.index('"steps"')
    assert portable.export_filename(workflow) == "bill-new-invoices-unicode.workflow.json"


# -- import ------------------------------------------------------------------------------


def test_export_import_export_is_byte_equal(workflow, other, user):
    text = portable.export_text(workflow)
    imported = portable.import_workflow(json.loads(text), other, user, keep_alert_emails=True)
    assert imported.pk != workflow.pk
    assert portable.export_text(Workflow.objects.get(pk=imported.pk)) == text


def test_an_imported_workflow_is_inactive_owned_by_the_importer_and_has_no_samples(
    workflow, other, user
):
    assert workflow.active
    imported = portable.import_workflow(portable.export_document(workflow), other, user)
    imported.refresh_from_db()
    assert not imported.active
    assert (imported.connection, imported.owner, imported.copied_from) == (other, user, None)
    assert imported.sample_event is None
    assert not imported.steps.filter(sample_output__isnull=False).exists()
    assert imported.steps.get(name="item").condition_match == "any"


def errors_of(document, connection, user) -> dict[str, list[str]]:
    before = Workflow.objects.count()
    with pytest.raises(portable.PortableError) as caught:
        portable.import_workflow(document, connection, user)
    assert Workflow.objects.count() == before  # nothing written
    return caught.value.errors


def test_import_names_each_problem_by_its_path_all_at_once(workflow, other, user):
    document = portable.export_document(workflow)
    document["workflow"]["trigger_key"] = "invoice.exploded"
    document["workflow"]["steps"][3]["action_key"] = "launch_rocket"
    errors = errors_of(document, other, user)
    assert set(errors) == {"workflow.trigger_key", "workflow.steps[3].action_key"}
    assert "launch_rocket" in errors["workflow.steps[3].action_key"][0]


def test_import_checks_a_step_as_saving_does_on_its_own_fields(workflow, other, user):
    document = portable.export_document(workflow)
    find, item = document["workflow"]["steps"][:2]
    find["condition"] = [{"path": "steps.item.id", "op": "exists"}]  # a later step
    item["condition_match"] = "all"
    item["input"]["customer"] = "{{ steps.nowhere.id }}"
    errors = errors_of(document, other, user)
    assert set(errors) == {"workflow.steps[0].condition", "workflow.steps[1].input.customer"}


def test_import_refuses_a_maximum_beyond_the_ceiling(workflow, other, user):
    document = portable.export_document(workflow)
    document["workflow"]["steps"][1]["max_items"] = 5000
    assert set(errors_of(document, other, user)) == {"workflow.steps[1].max_items"}


def test_import_names_a_bad_for_each_path_on_the_step(workflow, other, user):
    document = portable.export_document(workflow)
    document["workflow"]["steps"][1]["for_each"] = "steps.tag.data"  # a later step
    assert set(errors_of(document, other, user)) == {"workflow.steps[1].for_each"}


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda doc: [doc], ""),
        (lambda doc: {**doc, "format": "zapier.zap"}, "format"),
        (lambda doc: {**doc, "version": 2}, "version"),
        (lambda doc: {**doc, "version": "1"}, "version"),
        (lambda doc: {**doc, "exported_at": "2026-01-01"}, "exported_at"),
        (lambda doc: {key: value for key, value in doc.items() if key != "workflow"}, "workflow"),
        (lambda doc: {**doc, "workflow": "Bill invoices"}, "workflow"),
        (lambda doc: {**doc, "workflow": {**doc["workflow"], "active": True}}, "workflow.active"),
        (lambda doc: {**doc, "workflow": {**doc["workflow"], "owner": 1}}, "workflow.owner"),
        (lambda doc: {**doc, "workflow": {**doc["workflow"], "steps": {}}}, "workflow.steps"),
        (lambda doc: {**doc, "workflow": {**doc["workflow"], "steps": ["x"]}}, "workflow.steps[0]"),
        (
            lambda doc: {
                **doc,
                "workflow": {**doc["workflow"], "steps": [{"name": "a", "sample_output": {}}]},
            },
            "workflow.steps[0].sample_output",
        ),
    ],
)
def test_import_refuses_what_is_not_a_workflow_document(workflow, other, user, change, path):
    errors = errors_of(change(portable.export_document(workflow)), other, user)
    assert list(errors) == [path], errors


def test_import_needs_the_use_of_the_connection(workflow, other, django_user_model):
    stranger = django_user_model.objects.create_user("stranger", password="x-123456!")
    with pytest.raises(PermissionDenied, match="Another test account"):
        portable.import_workflow(portable.export_document(workflow), other, stranger)
    assert not Workflow.objects.filter(connection=other).exists()


def test_import_needs_the_use_of_a_credential_the_steps_name(workflow, other, django_user_model):
    importer = django_user_model.objects.create_user("importer", password="x-123456!")
    importer.user_permissions.add(Permission.objects.get(codename="use_connection"))
    importer = django_user_model.objects.get(pk=importer.pk)
    with pytest.raises(PermissionDenied, match="crm"):
        portable.import_workflow(portable.export_document(workflow), other, importer)
    assert not Workflow.objects.filter(connection=other).exists()


# -- copy to a live connection -------------------------------------------------------------


def test_the_preview_lists_literal_test_ids_with_their_paths(workflow, live):
    preview = portable.promotion_preview(workflow, live)
    assert preview["stripe_ids"] == [
        {"id": FILTERED_CUSTOMER, "paths": ["filters[0].value"], "suggestion": None},
        {
            "id": TEST_PRICE,
            "paths": ["steps[item].input.pricing.price", "steps[tag].input.metadata.price"],
            "suggestion": None,
        },
        {"id": TEMPLATE_CUSTOMER, "paths": ["steps[item].input.description"], "suggestion": None},
        {
            "id": TEST_CUSTOMER,
            "paths": ["steps[item].condition[1].value", "steps[tag].input.id"],
            "suggestion": None,
        },
    ]
    shown = json.dumps(preview["stripe_ids"])
    for not_an_id in ("acct_1Workflows", "acct_1X", "SUMMER"):
        assert not_an_id not in shown  # an account (same in both modes), a coupon
    assert preview["live_copy"] is None and preview["differences"] == []
    assert preview["target"] == {"id": str(live.pk), "name": "Live account", "mode": "live"}
    assert preview["will_deactivate"] is False


@pytest.mark.parametrize(
    ("value", "is_id"),
    [
        ("cus_NffrFeUfNV2Hib", True),
        ("price_1PgafmB7WZ01zgkW", True),
        ("sub_sched_1PgafmB7WZ01zgkW", True),
        ("cs_test_a1B2c3D4e5F6g7H8", True),
        ("tok_visa", True),
        ("pm_card_visa", True),
        ("acct_1PgafmB7WZ01zgkW", False),
        ("sk_test_51PgafmB7WZ01zgkW", False),
        ("cus_short", False),
        ("Customer cus_NffrFeUfNV2Hib", False),
        ("{{ 'cus_NffrFeUfNV2Hib' }}", False),
        (42, False),
    ],
)
def test_what_counts_as_a_test_mode_stripe_id(value, is_id):
    assert portable.is_stripe_id(value) is is_id


REPLACEMENTS = {
    FILTERED_CUSTOMER: "cus_LiveFiltered0001",
    TEST_PRICE: "price_1LivePrice000001",
    TEST_CUSTOMER: "cus_LiveCustomer0001",
    TEMPLATE_CUSTOMER: "cus_LiveTemplate0001",
}


def test_copying_creates_an_inactive_live_copy_with_the_ids_replaced(workflow, live, user):
    copy = portable.promote(workflow, live, user, REPLACEMENTS)
    assert (copy.copy_created, copy.copy_deactivated) == (True, False)
    copy.refresh_from_db()
    assert (copy.connection, copy.copied_from, copy.owner, copy.active) == (
        live,
        workflow,
        user,
        False,
    )
    part = portable.export_document(copy)["workflow"]
    text = json.dumps(part)
    assert not any(test_id in text for test_id in REPLACEMENTS)
    item, tag = part["steps"][1], part["steps"][3]
    assert item["input"]["pricing"]["price"] == "price_1LivePrice000001"
    assert item["condition"][1]["value"] == "cus_LiveCustomer0001"
    assert tag["input"]["id"] == "cus_LiveCustomer0001"
    assert part["filters"][0]["value"] == "cus_LiveFiltered0001"
    # A template's literal default is replaced; its references and what is no id stay.
    assert (
        item["input"]["description"] == "{{ item.description | default('cus_LiveTemplate0001') }}"
    )
    assert tag["input"]["metadata"]["coupon"] == "SUMMER"
    # Apart from the ids, the copy is the test workflow.
    test_part = portable.apply_replacements(
        portable.export_document(workflow)["workflow"], REPLACEMENTS
    )
    assert portable.as_text(part) == portable.as_text(test_part)


def test_copying_again_updates_the_copy_and_deactivates_it(workflow, live, user):
    first = portable.promote(workflow, live, user, REPLACEMENTS)
    assert first.copy_created
    services.set_active(first, True, user)
    workflow.steps.filter(name="tag").delete()
    add_step(workflow, 5, "recheck", "find_invoice", {"id": "{{ trigger.data.object.id }}"})
    workflow.description = "Second version"
    services.save_workflow(workflow)

    preview = portable.promotion_preview(workflow, live, REPLACEMENTS)
    assert preview["live_copy"] == {"id": first.pk, "name": first.name, "active": True}
    assert preview["will_deactivate"] is True
    changes = {item["path"]: (item["live"], item["test"]) for item in preview["differences"]}
    assert changes["description"] == ("Adds an item per line; tells the CRM.", "Second version")
    assert changes["steps[recheck]"][0] is None
    assert changes["steps[recheck]"][1]["action_key"] == "find_invoice"
    assert changes["steps[tag]"][0]["input"]["id"] == "cus_LiveCustomer0001"
    assert changes["steps[tag]"][1] is None
    assert len(changes) == 3  # the replaced ids make no difference

    again = portable.promote(workflow, live, user, REPLACEMENTS)
    assert (again.pk, again.copy_created, again.copy_deactivated) == (first.pk, False, True)
    again.refresh_from_db()
    assert not again.active
    assert list(again.steps.values_list("name", flat=True)) == ["find", "item", "notify", "recheck"]
    assert Workflow.objects.filter(copied_from=workflow).count() == 1


def test_the_preview_suggests_the_live_copys_ids_and_compares_with_them(workflow, live, user):
    portable.promote(workflow, live, user, REPLACEMENTS)
    preview = portable.promotion_preview(workflow, live)
    assert {item["id"]: item["suggestion"] for item in preview["stripe_ids"]} == REPLACEMENTS
    assert preview["differences"] == []  # copied with the suggestions, nothing changes
    other_price = "price_1OtherLivePrice01"
    preview = portable.promotion_preview(workflow, live, {TEST_PRICE: other_price})
    assert preview["differences"] == [
        {
            "path": "steps[item].input.pricing.price",
            "live": "price_1LivePrice000001",
            "test": other_price,
        },
        {
            "path": "steps[tag].input.metadata.price",
            "live": "price_1LivePrice000001",
            "test": other_price,
        },
    ]


def refusal(workflow, target, user, replacements) -> dict[str, list[str]]:
    with pytest.raises(portable.PortableError) as caught:
        portable.promote(workflow, target, user, replacements)
    assert not Workflow.objects.filter(copied_from=workflow).exists()
    return caught.value.errors


def test_copying_needs_a_live_id_for_every_test_id(workflow, live, user):
    errors = refusal(workflow, live, user, {TEST_PRICE: "price_1LivePrice000001"})
    assert list(errors) == ["replacements"]
    assert FILTERED_CUSTOMER in errors["replacements"][0]
    assert TEST_CUSTOMER in errors["replacements"][0]
    assert TEST_PRICE not in errors["replacements"][0]


def test_a_replacement_must_be_a_live_id_of_the_same_kind(workflow, live, user):
    errors = refusal(
        workflow,
        live,
        user,
        {
            **REPLACEMENTS,
            TEST_PRICE: "prod_1LiveProduct00001",
            TEST_CUSTOMER: "cus_test_SomeTestId001",
            "cus_NotInTheWorkflow": "cus_LiveSomething001",
        },
    )
    assert set(errors) == {
        "replacements",
        f"replacements.{TEST_PRICE}",
        f"replacements.{TEST_CUSTOMER}",
    }
    assert "cus_NotInTheWorkflow" in errors["replacements"][0]


def test_an_id_may_stay_as_it_is_when_the_object_was_copied_with_its_id(workflow, live, user):
    copy = portable.promote(workflow, live, user, {**REPLACEMENTS, TEST_PRICE: TEST_PRICE})
    part = portable.export_document(copy)["workflow"]
    assert part["steps"][1]["input"]["pricing"]["price"] == TEST_PRICE


def test_only_a_test_workflow_is_copied_and_only_to_a_live_connection(workflow, live, other, user):
    assert list(refusal(workflow, other, user, REPLACEMENTS)) == ["connection"]
    live_workflow = services.save_workflow(
        Workflow(name="Live one", connection=live, trigger_key="customer.created")
    )
    second_live = make_connection(
        name="Second live",
        secret_key=LIVE_KEY.replace("wxyz", "abcd"),
        webhook_secret="whsec_portable_live2_0123456789abcdef",
        mode=Connection.Mode.LIVE,
    )
    assert list(refusal(live_workflow, second_live, user, {})) == ["workflow"]
    with pytest.raises(portable.PortableError):
        portable.promotion_preview(workflow, other)


def test_copying_needs_the_use_of_the_live_connection(workflow, live, django_user_model):
    stranger = django_user_model.objects.create_user("stranger", password="x-123456!")
    with pytest.raises(PermissionDenied, match="Live account"):
        portable.promote(workflow, live, stranger, REPLACEMENTS)
    assert not Workflow.objects.filter(copied_from=workflow).exists()


def test_a_refused_copy_leaves_the_live_copy_as_it_was(workflow, live, user):
    copy = portable.promote(workflow, live, user, REPLACEMENTS)
    services.set_active(copy, True, user)
    # A step saved before a rule it now breaks: the copy's checks refuse it.
    Step.objects.filter(workflow=workflow, name="find").update(action_key="retired_action")
    errors = refusal_keeping_copy(workflow, live, user)
    assert list(errors) == ["workflow.steps[0].action_key"]
    copy.refresh_from_db()
    assert copy.active
    assert copy.steps.get(name="find").action_key == "find_customer"


def refusal_keeping_copy(workflow, live, user) -> dict[str, list[str]]:
    with pytest.raises(portable.PortableError) as caught:
        portable.promote(workflow, live, user, REPLACEMENTS)
    return caught.value.errors


# -- ids inside text, the preview's suggestions ------------------------------------------------

RAW_CUSTOMER = "cus_TestAbc12345678"
TEST_METER = "mtr_test_61ABCDEFGHijklmnop"
DEFAULT_CUSTOMER = "cus_TestDefault12345"


@pytest.fixture
def ids_in_text(connection) -> Workflow:
    """Test ids inside a URL path, as a billing meter, as a template's literal default; a
    trigger path that looks like an id (a name, not a literal); words that look like ids."""
    workflow = services.save_workflow(
        Workflow(name="Ids in text", connection=connection, trigger_key="invoice.created")
    )
    add_step(
        workflow,
        1,
        "raw",
        "stripe_api_request",
        {
            "method": "POST",
            "path": f"/v1/customers/{RAW_CUSTOMER}",
            "params": {"description": "in_progress", "metadata": {"state": "re_subscribe"}},
        },
    )
    add_step(
        workflow,
        2,
        "price",
        "create_price",
        {
            "currency": "usd",
            "unit_amount": 1,
            "product": "{{ trigger.data.object.metadata.cus_Legacy12345 }}",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": TEST_METER},
        },
    )
    add_step(
        workflow,
        3,
        "note",
        "update_customer",
        {
            "id": f"{{{{ trigger.data.object.customer | default('{DEFAULT_CUSTOMER}') }}}}",
            "description": f"Was {RAW_CUSTOMER}, see {{{{ steps.raw.id }}}}",
        },
    )
    return workflow


def test_ids_inside_text_and_template_literals_are_listed(ids_in_text, live):
    listed = {
        item["id"]: item["paths"]
        for item in portable.stripe_ids(portable.export_document(ids_in_text)["workflow"])
    }
    assert listed == {
        RAW_CUSTOMER: ["steps[raw].input.path", "steps[note].input.description"],
        TEST_METER: ["steps[price].input.recurring.meter"],
        DEFAULT_CUSTOMER: ["steps[note].input.id"],
    }  # not the trigger path's name, nor the words in_progress and re_subscribe
    preview = portable.promotion_preview(ids_in_text, live)
    assert [item["id"] for item in preview["stripe_ids"]] == list(listed)


LIVE_IDS = {
    RAW_CUSTOMER: "cus_LiveAbc12345678",
    TEST_METER: "mtr_61LiveMeter0123456",
    DEFAULT_CUSTOMER: "cus_LiveDefault12345",
}


def test_copying_replaces_the_ids_inside_text_and_only_them(ids_in_text, live, user):
    with pytest.raises(portable.PortableError) as caught:
        portable.promote(ids_in_text, live, user, {})
    assert all(test_id in caught.value.errors["replacements"][0] for test_id in LIVE_IDS)

    copy = portable.promote(ids_in_text, live, user, LIVE_IDS)
    raw, price, note = (step.input_mapping for step in copy.steps.order_by("order"))
    assert raw["path"] == "/v1/customers/cus_LiveAbc12345678"
    assert raw["params"] == {"description": "in_progress", "metadata": {"state": "re_subscribe"}}
    assert price["recurring"]["meter"] == "mtr_61LiveMeter0123456"
    assert price["product"] == "{{ trigger.data.object.metadata.cus_Legacy12345 }}"
    assert note == {
        "id": "{{ trigger.data.object.customer | default('cus_LiveDefault12345') }}",
        "description": "Was cus_LiveAbc12345678, see {{ steps.raw.id }}",
    }


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("/v1/customers/cus_TestAbc12345678/balance", ["cus_TestAbc12345678"]),
        ("xcus_TestAbc12345678", []),  # not a word of its own
        ("cus_TestAbc12345678_old", []),
        (
            '{{ x | default("price_1TestPrice000001") }} and ii_1TestItem00000001',
            [
                "price_1TestPrice000001",
                "ii_1TestItem00000001",
            ],
        ),
        ("{{ steps.sub_Customers12345.id }}", []),  # a step's name in a path
        ("{# cus_TestAbc12345678 #}{{ x }}", []),  # a comment sends nothing
        ("a  {{- x -}}  cus_TestAbc12345678", ["cus_TestAbc12345678"]),
        (
            "bpc_1TestPortal0001 cbtxn_1TestBalance001 ipi_1TestIssuing001",
            [
                "bpc_1TestPortal0001",
                "cbtxn_1TestBalance001",
                "ipi_1TestIssuing001",
            ],
        ),
        ("in_progress", []),
    ],
)
def test_where_ids_are_found_in_a_string(text, found):
    assert [text[start:end] for start, end in portable.id_spans(text)] == found


def test_the_preview_suggests_the_live_id_inside_text(ids_in_text, live, user):
    portable.promote(ids_in_text, live, user, LIVE_IDS)
    preview = portable.promotion_preview(ids_in_text, live)
    assert {item["id"]: item["suggestion"] for item in preview["stripe_ids"]} == LIVE_IDS
    assert preview["differences"] == []


def test_the_preview_suggests_nothing_where_the_live_copy_holds_a_list(workflow, live, user):
    copy = portable.promote(workflow, live, user, REPLACEMENTS)
    Workflow.objects.filter(pk=copy.pk).update(
        filters=[{"path": "data.object.customer", "op": "in", "value": []}]
    )
    copy.steps.filter(name="tag").update(input_mapping={"id": {}, "metadata": {}})
    preview = portable.promotion_preview(workflow, live)
    suggestions = {item["id"]: item["suggestion"] for item in preview["stripe_ids"]}
    assert suggestions[FILTERED_CUSTOMER] is None
    assert suggestions[TEST_CUSTOMER] is None  # its paths disagree now
    assert suggestions[TEST_PRICE] is None
    assert {"path": "filters[0].value", "live": [], "test": FILTERED_CUSTOMER} in (
        preview["differences"]
    )


# -- step order, numbers -------------------------------------------------------------------------


def test_steps_of_equal_order_are_exported_in_the_order_they_run(connection, user):
    """Guard: the engine runs steps by (order, id); the export lists them so."""
    workflow = services.save_workflow(
        Workflow(name="Equal orders", connection=connection, trigger_key="customer.created")
    )
    add_step(workflow, 1, "b", "find_customer", {"id": "{{ trigger.data.object.id }}"})
    add_step(workflow, 1, "a", "find_customer", {"id": "{{ steps.b.id }}"})
    add_step(workflow, 0, "c", "find_customer", {"id": "{{ trigger.data.object.id }}"})
    names = [step["name"] for step in portable.export_document(workflow)["workflow"]["steps"]]
    assert names == ["c", "b", "a"]
    imported = portable.import_workflow(portable.export_document(workflow), connection, user)
    assert list(imported.steps.values_list("name", "order")) == [("c", 1), ("b", 2), ("a", 3)]


def test_whole_numbers_are_exported_as_integers_the_same_on_every_database(connection, user):
    """PostgreSQL's jsonb gives 1e20 back as 100000000000000000000: the export writes whole
    numbers as integers, so both databases export the same bytes."""
    workflow = services.save_workflow(
        Workflow(
            name="Numbers",
            connection=connection,
            trigger_key="invoice.created",
            filters=[
                {"path": "data.object.total", "op": "lt", "value": 1e20},
                {"path": "data.object.x", "op": "in", "value": [1.0, -0.0, 10**30, 2.5]},
            ],
        )
    )
    add_step(
        workflow,
        1,
        "item",
        "create_invoice_item",
        {"customer": "{{ trigger.data.object.customer }}", "amount": 100.0, "currency": "usd"},
        condition=[{"path": "trigger.data.object.amount_due", "op": "gte", "value": 1.2345e25}],
    )
    stored = Workflow.objects.get(pk=workflow.pk)
    text = portable.export_text(stored)
    part = json.loads(text)["workflow"]
    assert part["filters"][0]["value"] == 10**20 and "e+" not in text
    assert part["filters"][1]["value"] == [1, 0, 10**30, 2.5]
    assert part["steps"][0]["input"]["amount"] == 100
    assert part["steps"][0]["condition"][0]["value"] == 12345 * 10**21
    imported = portable.import_workflow(json.loads(text), connection, user)
    assert portable.export_text(Workflow.objects.get(pk=imported.pk)) == text


# -- what import keeps out ---------------------------------------------------------------------


def test_import_leaves_out_the_alert_emails_unless_asked_to_keep_them(workflow, other, user):
    document = portable.export_document(workflow)
    imported = portable.import_workflow(document, other, user)
    imported.refresh_from_db()
    assert imported.alert_emails == []
    assert imported.api_warnings[-1]["field"] == "alert_emails"
    assert "ops@example.com" in imported.api_warnings[-1]["message"]
    kept = portable.import_workflow(document, other, user, keep_alert_emails=True)
    kept.refresh_from_db()
    assert kept.alert_emails == ["ops@example.com"]
    assert not any(w["field"] == "alert_emails" for w in kept.api_warnings)


def test_import_refuses_a_credential_that_does_not_exist_by_its_path(workflow, other, user):
    document = portable.export_document(workflow)
    document["workflow"]["steps"][2]["input"]["credential"] = "nowhere"
    document["workflow"]["steps"][3]["action_key"] = "launch_rocket"
    errors = errors_of(document, other, user)
    assert set(errors) == {"workflow.steps[2].input.credential", "workflow.steps[3].action_key"}
    assert "'nowhere'" in errors["workflow.steps[2].input.credential"][0]


@pytest.fixture
def connection_user(django_user_model):
    """A user who may use connections (``use_connection``) and no credential."""
    user = django_user_model.objects.create_user("connection-user", password="x-123456!")
    user.user_permissions.add(Permission.objects.get(codename="use_connection"))
    return django_user_model.objects.get(pk=user.pk)  # permissions read afresh


def test_a_credential_the_importer_may_not_use_is_refused_by_its_path(
    workflow, other, connection_user
):
    with pytest.raises(portable.CredentialRefused) as caught:
        portable.import_workflow(portable.export_document(workflow), other, connection_user)
    assert isinstance(caught.value, PermissionDenied)
    assert list(caught.value.errors) == ["workflow.steps[2].input.credential"]
    assert "'crm'" in caught.value.errors["workflow.steps[2].input.credential"][0]


def test_copying_names_the_step_whose_credential_the_user_may_not_use(
    workflow, live, connection_user
):
    with pytest.raises(portable.CredentialRefused) as caught:
        portable.promote(workflow, live, connection_user, REPLACEMENTS)
    assert list(caught.value.errors) == ["workflow.steps[2].input.credential"]
    assert not Workflow.objects.filter(copied_from=workflow).exists()
