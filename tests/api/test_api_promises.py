"""The API keeps its own promises: one error shape, an index, slashes, docs, schema, queries."""

import re

import pytest

from tests.api.conftest import field_errors

pytestmark = pytest.mark.django_db

LISTS = (
    "/api/v1/connections/",
    "/api/v1/credentials/",
    "/api/v1/catalog/triggers/",
    "/api/v1/catalog/actions/",
    "/api/v1/automations/",
    "/api/v1/workflows/",
    "/api/v1/runs/",
    "/api/v1/events/",
)
OPERATIONS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(superuser_api) -> dict:
    response = superuser_api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def staff_browser(client, django_user_model):
    """A browser signed in to admin (the documentation pages use its session)."""
    client.force_login(django_user_model.objects.create_superuser("docs", "d@example.com", "x"))
    return client


# --- one error shape -----------------------------------------------------------------------


def test_every_error_answers_type_message_and_errors(superuser_api, anonymous, connection):
    answers = [
        superuser_api.post("/api/v1/workflows/", "{", content_type="application/json"),
        superuser_api.post("/api/v1/workflows/", "name=x", content_type="text/plain"),
        superuser_api.get("/api/v1/workflows/999/"),
        superuser_api.get("/api/v1/nothing-here/"),
        anonymous.get("/api/v1/workflows/"),
        superuser_api.post("/api/v1/workflows/", {"name": ""}, format="json"),
    ]
    for response in answers:
        assert response.status_code >= 400
        body = response.json()
        assert set(body) == {"type", "message", "errors"}, body
        assert isinstance(body["errors"], list)


def test_a_body_that_is_not_json_names_the_body_as_the_bad_field(superuser_api):
    response = superuser_api.post("/api/v1/workflows/", "{", content_type="application/json")
    body = response.json()
    assert (response.status_code, body["type"]) == (400, "parse_error")
    assert body["errors"] == [{"field": "", "message": body["message"]}]


# --- where to start ---------------------------------------------------------------------------


def test_the_api_root_lists_its_resources_each_of_which_answers(superuser_api):
    response = superuser_api.get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    urls = {item["name"]: item["url"] for item in body["resources"]}
    assert sorted(f"http://testserver/api/v1/{name}/" for name in urls) == sorted(
        f"http://testserver{path}" for path in LISTS
    )
    assert all(urls[name].endswith(f"/api/v1/{name}/") for name in urls)
    for url in urls.values():
        assert superuser_api.get(url).status_code == 200, url
    assert body["schema"] == "http://testserver/api/schema/"
    assert "Bearer" in body["authentication"]


def test_a_client_without_credentials_is_told_how_to_authenticate(anonymous):
    for path in ("/api/v1/", "/api/v1/runs/", "/api/schema/"):
        response = anonymous.get(path, HTTP_ACCEPT="application/json")
        assert response.status_code == 401, path
        assert "Authorization: Bearer kfy_" in response.json()["message"], path


# --- trailing slashes --------------------------------------------------------------------------


def test_a_path_without_its_trailing_slash_is_redirected_keeping_method_and_query(superuser_api):
    response = superuser_api.get("/api/v1/runs?status=failed")
    assert response.status_code == 308
    assert response["Location"] == "/api/v1/runs/?status=failed"
    response = superuser_api.post("/api/v1/workflows", {}, format="json")
    assert (response.status_code, response["Location"]) == (308, "/api/v1/workflows/")
    assert superuser_api.get("/api/v1", follow=True).status_code == 200


def test_a_path_that_names_nothing_with_or_without_slash_stays_a_404(superuser_api):
    for path in ("/api/v1/nothing-here", "/api/v1/runs/12/nothing"):
        response = superuser_api.get(path)
        assert response.status_code == 404, path
        assert response.json()["type"] == "not_found"


# --- the documentation pages ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_a_docs_page_tells_an_anonymous_visitor_how_to_authenticate(anonymous, path):
    response = anonymous.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 401
    page = response.content.decode()
    assert f'href="/admin/login/?next={path}"' in page
    assert "Authorization: Bearer kfy_..." in page
    assert "create_api_token" in page


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_a_docs_page_loads_nothing_from_another_origin(staff_browser, path):
    response = staff_browser.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in page  # served by the product itself
    assert not re.findall(r"""(?:src|href)=["'](?:https?:)?//""", page)
    assert "fonts.googleapis.com" not in page


def test_the_schema_is_json_for_a_client_that_asks_for_json(superuser_api):
    response = superuser_api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["openapi"].startswith("3.")


# --- what the schema says --------------------------------------------------------------------


def test_every_operation_has_a_summary(schema):
    missing = [
        f"{method} {path}"
        for path, item in schema["paths"].items()
        for method in OPERATIONS
        if method in item and not item[method].get("summary")
    ]
    assert missing == []


def test_json_values_are_documented_as_objects_with_realistic_examples(schema):
    components = schema["components"]["schemas"]
    for component, field in [
        ("ExecuteResult", "output"),
        ("ExecuteRequest", "input"),
        ("Action", "input_schema"),
        ("Trigger", "sample"),
        ("StepRun", "output"),
        ("StepRun", "error"),
        ("InboxEventDetail", "payload"),
    ]:
        described = components[component]["properties"][field]
        assert described["type"] == "object", (component, field)
        assert described["example"], (component, field)
    assert components["ExecuteResult"]["properties"]["output"]["example"]["id"].startswith("cus_")
    key = components["ExecuteRequest"]["properties"]["idempotency_key"]
    assert key["example"] == "order-6735-create-customer"
    assert components["StepRun"]["properties"]["idempotency_key"]["example"].startswith(
        "konnectify-"
    )


def test_list_filters_are_documented_from_their_filtersets(schema):
    def names(path: str) -> set[str]:
        return {parameter["name"] for parameter in schema["paths"][path]["get"]["parameters"]}

    assert {"stripe_event_id", "object_id", "event", "expand", "workflow"} <= names("/api/v1/runs/")
    assert {"stripe_event_id", "object_id", "received_after", "source"} <= names("/api/v1/events/")
    assert {"connection", "active", "trigger_key", "event_type"} <= names("/api/v1/workflows/")
    assert {"status", "mode", "webhook_mode"} <= names("/api/v1/connections/")


# --- query parameters ------------------------------------------------------------------------


def test_an_unknown_query_parameter_is_a_400_naming_it_on_every_list(superuser_api):
    for path in LISTS:
        response = superuser_api.get(path, {"evnt": "evt_1"})
        assert response.status_code == 400, path
        assert list(field_errors(response)) == ["evnt"], path
        assert "Unknown query parameter" in field_errors(response)["evnt"]


def test_a_run_filter_that_is_not_an_id_no_longer_lists_every_run(superuser_api):
    response = superuser_api.get("/api/v1/runs/", {"event": "evt_nope"})
    assert response.status_code == 400
    assert list(field_errors(response)) == ["event"]


def test_an_unknown_query_parameter_is_refused_beyond_lists_too(superuser_api, connection):
    response = superuser_api.get(f"/api/v1/connections/{connection.pk}/", {"expand": "all"})
    assert response.status_code == 400
    assert list(field_errors(response)) == ["expand"]


def test_each_body_is_described_by_its_own_words_not_a_mixins(schema):
    described = {
        name: component.get("description", "")
        for name, component in schema["components"]["schemas"].items()
    }
    assert [name for name, text in described.items() if "Serializer mixin" in text] == []


# --- pages, repeated parameters, representations ---------------------------------------------


@pytest.mark.parametrize("page", ["0", "-1", "1.5", "x", "", "\u0661"])
def test_a_page_that_is_not_a_positive_integer_is_a_400_naming_page(superuser_api, page):
    response = superuser_api.get("/api/v1/runs/", {"page": page})
    assert response.status_code == 400
    assert list(field_errors(response)) == ["page"]
    assert "positive integer" in field_errors(response)["page"]


@pytest.mark.parametrize("page", ["2", "99999999999999999999"])
def test_a_page_past_the_last_one_is_a_400_saying_how_many_pages_there_are(superuser_api, page):
    response = superuser_api.get("/api/v1/workflows/", {"page": page})
    assert response.status_code == 400
    assert field_errors(response) == {"page": f"There is no page {page}: page {page} of 1."}


def test_the_first_page_of_an_empty_list_is_an_empty_page(superuser_api):
    response = superuser_api.get("/api/v1/workflows/", {"page": "1"})
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("size", ["0", "-1", "201", "99999999999999", "ten"])
def test_a_page_size_outside_1_to_200_is_a_400_naming_page_size(superuser_api, size):
    response = superuser_api.get("/api/v1/events/", {"page_size": size})
    assert response.status_code == 400
    assert field_errors(response) == {"page_size": "A page size: an integer from 1 to 200."}


def test_a_page_size_within_bounds_is_taken(superuser_api):
    assert superuser_api.get("/api/v1/events/", {"page_size": "200"}).status_code == 200


def test_bad_paging_and_unknown_parameters_are_reported_at_once(superuser_api):
    response = superuser_api.get("/api/v1/runs/", {"page": "0", "page_size": "0", "evnt": "1"})
    assert response.status_code == 400
    assert sorted(field_errors(response)) == ["evnt", "page", "page_size"]


def test_format_is_not_a_query_parameter_of_the_api(superuser_api, connection):
    for path in ("/api/v1/runs/", f"/api/v1/connections/{connection.pk}/"):
        response = superuser_api.get(path, {"format": "api"})
        assert response.status_code == 400, path
        assert list(field_errors(response)) == ["format"], path


def test_a_parameter_given_twice_is_a_400_naming_it_not_a_silent_choice(superuser_api):
    response = superuser_api.get("/api/v1/runs/?status=failed&status=succeeded")
    assert response.status_code == 400
    assert field_errors(response) == {"status": "Given 2 times; this parameter takes one value."}
    response = superuser_api.get("/api/v1/runs/?page=1&page=2")
    assert list(field_errors(response)) == ["page"]


def test_the_api_answers_json_whatever_accept_says(superuser_api):
    for accept in ("application/xml", "text/html", "image/png"):
        response = superuser_api.get("/api/v1/runs/", HTTP_ACCEPT=accept)
        assert response.status_code == 200, accept
        assert response["Content-Type"] == "application/json", accept
        assert response.json()["results"] == []
    missing = superuser_api.get("/api/v1/runs/999/", HTTP_ACCEPT="application/xml")
    assert (missing.status_code, missing.json()["type"]) == (404, "not_found")


def test_the_schema_still_answers_yaml_to_a_client_that_asks_for_nothing_else(superuser_api):
    response = superuser_api.get("/api/schema/", HTTP_ACCEPT="application/xml")
    assert response.status_code == 200
    assert response.content.startswith(b"openapi:")
