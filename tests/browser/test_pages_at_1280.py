"""Every admin and API page changed for security and the API, seen at 1280x800.

Each page must fit the width (no horizontal scrolling), log no console error,
load nothing from outside 127.0.0.1 and is kept as a screenshot.
"""

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.admin_pages import ADMIN, PageCheck, sign_in
from tests.e2e.stack import unique
from tests.support.factories import event_envelope, inbox_event
from workflows.automations import create_from_automation
from workflows.engine import step_run_for
from workflows.models import Run, RunStatus

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]
PASSWORD = "a-long-Staff-pass-42"


@pytest.fixture
def check(page, camera) -> PageCheck:
    page.set_viewport_size({"width": 1280, "height": 800})
    return PageCheck(page, camera)


@pytest.fixture
def failed_run(stripe_connection) -> Run:
    """An inactive workflow's failed run on a stored event: nothing for the worker to do."""
    workflow = create_from_automation("customer_updated_find_customer", stripe_connection)
    event = inbox_event(stripe_connection, event_envelope("customer.updated"))
    run = Run.objects.create(
        workflow=workflow, event=event, status=RunStatus.FAILED, error="Step find failed."
    )
    step = workflow.steps.get()
    step_run = step_run_for(run, step, timezone.now())
    step_run.status = RunStatus.FAILED
    step_run.attempts = 1
    step_run.input = {"id": "cus_Missing00000001"}
    step_run.error = {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "message": "No such customer: 'cus_Missing00000001'",
        "http_status": 404,
    }
    step_run.save()
    return run


def staff_user(django_user_model, *codenames: str, username: str = ""):
    """An active staff member (not superuser) holding ``app_label.codename`` permissions."""
    user = django_user_model.objects.create_user(
        username or unique("staff"), "staff@example.com", PASSWORD, is_staff=True
    )
    for name in codenames:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def test_superuser_pages_fit_1280_without_console_errors(
    page, check, stack, admin_user, stripe_connection, failed_run
):
    base = stack.web_url
    sign_in(page, base, *ADMIN)
    check.check("admin-index")

    check.visit(f"{base}/admin/connections/connection/add/", "connection-add")
    expect(page.locator("select#id_api_base")).to_be_visible()
    change = f"{base}/admin/connections/connection/{stripe_connection.pk}/change/"
    check.visit(change, "connection-change")
    expect(page.locator("select#id_api_base")).to_be_visible()

    check.visit(f"{base}/admin/connections/connection/", "connections-list")
    page.check("#result_list input.action-select")
    page.select_option("select[name=action]", "test_connection")
    check.check("connections-list-action-chosen")

    check.visit(f"{base}/admin/connections/inboxevent/", "events-list")
    check.visit(f"{base}/admin/connections/inboxevent/{failed_run.event_id}/change/", "event")

    workflow = failed_run.workflow
    check.visit(f"{base}/admin/workflows/workflow/{workflow.pk}/change/", "workflow-change")
    expect(page.locator(".object-tools")).to_contain_text("Test a step")
    check.visit(f"{base}/admin/workflows/workflow/", "workflows-list")
    page.check("#result_list input.action-select")
    page.select_option("select[name=action]", "activate")
    check.check("workflows-list-activate-chosen")
    check.visit(f"{base}/admin/workflows/workflow/automations/", "automations")
    check.visit(f"{base}/admin/workflows/workflow/{workflow.pk}/test-step/", "test-step")

    check.visit(f"{base}/admin/workflows/run/", "runs-list")
    check.visit(f"{base}/admin/workflows/run/{failed_run.pk}/change/", "run")
    expect(page.locator(".object-tools")).to_contain_text("Resume from failed step")
    expect(page.locator(".object-tools")).to_contain_text("Re-run from the start")
    page.emulate_media(color_scheme="dark")  # admin's "auto" theme follows it
    check.check("run-dark")
    page.emulate_media(color_scheme="light")

    check.visit(f"{base}/api/docs/", "swagger-ui")
    expect(page.locator(".swagger-ui .info .title")).to_be_visible()
    check.check("swagger-ui-loaded")
    check.visit(f"{base}/api/redoc/", "redoc", full_page=False)
    expect(page.locator("redoc h1, .api-info h1").first).to_be_visible()
    check.check("redoc-loaded", full_page=False)


def test_api_docs_tell_an_anonymous_visitor_how_to_sign_in_within_1280(page, check, stack):
    for path, what in (("/api/docs/", "swagger-anonymous"), ("/api/redoc/", "redoc-anonymous")):
        check.visit(f"{stack.web_url}{path}", what, status=401)
        expect(page.locator("h1")).to_contain_text("Sign in to read the API documentation")


def test_a_token_minting_staff_member_sees_only_their_own_tokens_within_1280(
    page, check, stack, django_user_model, admin_user
):
    staff = staff_user(
        django_user_model,
        "konnectify.add_apitoken",
        "konnectify.view_apitoken",
        "konnectify.change_apitoken",
    )
    base = stack.web_url
    sign_in(page, base, staff.username, PASSWORD)
    check.visit(f"{base}/admin/konnectify/apitoken/add/", "token-add")
    expect(page.locator("div.field-user .readonly")).to_contain_text(staff.username)
    expect(page.locator("select#id_user")).to_have_count(0)
    page.fill("#id_name", "reporting")
    page.click("input[name='_save']")
    expect(page.locator("ul.messagelist")).to_contain_text("Copy the token now")
    check.check("token-list-after-add")
    check.visit(f"{base}/admin/konnectify/apitoken/", "token-list")


def test_user_and_group_pages_of_a_non_superuser_editor_fit_1280(
    page, check, stack, django_user_model, admin_user
):
    editor = staff_user(
        django_user_model, "auth.view_user", "auth.change_user", "auth.change_group",
        "auth.view_group", "connections.view_connection",
    )  # fmt: skip
    weaker = staff_user(django_user_model, "connections.view_connection")
    group = Group.objects.create(name=unique("operators"))
    group.permissions.add(Permission.objects.get(codename="view_connection"))
    base = stack.web_url
    sign_in(page, base, editor.username, PASSWORD)
    check.visit(f"{base}/admin/auth/user/{weaker.pk}/change/", "weaker-user-change")
    expect(page.locator("div.field-is_superuser .readonly")).to_be_visible()
    expect(page.locator("input#id_is_superuser")).to_have_count(0)
    check.visit(f"{base}/admin/auth/user/", "users-list")
    check.visit(f"{base}/admin/auth/group/{group.pk}/change/", "group-change")
    expect(page.locator("select#id_permissions_from, select#id_permissions")).to_have_count(0)


def test_a_view_only_staff_member_is_offered_no_actions_or_buttons_within_1280(
    page, check, stack, django_user_model, admin_user, failed_run
):
    viewer = staff_user(
        django_user_model, "connections.view_connection", "workflows.view_run",
        "workflows.view_workflow", "connections.view_inboxevent",
    )  # fmt: skip
    base = stack.web_url
    sign_in(page, base, viewer.username, PASSWORD)
    check.visit(f"{base}/admin/connections/connection/", "viewer-connections-list")
    expect(page.locator("select[name=action]")).to_have_count(0)
    check.visit(f"{base}/admin/workflows/run/{failed_run.pk}/change/", "viewer-run")
    expect(page.get_by_role("button", name="Resume from failed step…")).to_have_count(0)
    expect(page.get_by_role("button", name="Re-run from the start…")).to_have_count(0)
    check.visit(f"{base}/admin/workflows/workflow/", "viewer-workflows-list")
    expect(page.locator(".object-tools")).not_to_contain_text("Popular automations")


def test_the_login_lockout_page_fits_1280(page, check, stack, django_user_model, settings):
    throwaway = staff_user(django_user_model, username=unique("locked"))
    base = stack.web_url
    # The web process reads LOGIN_FAILURE_LIMIT at start; the stack keeps the default.
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(f"{base}/admin/login/?next=/admin/")
        page.fill("#id_username", throwaway.username)
        page.fill("#id_password", "not-the-password")
        page.click("input[type=submit]")
    check.check("after-failed-logins", status=429)
    expect(page.locator("h1")).to_contain_text("Too many failed logins")
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", throwaway.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("input[type=submit]")
    assert answer.value.status == 429
    check.check("lockout", status=429)
    expect(page.locator("h1")).to_contain_text("Too many failed logins")
    expect(page.locator("#site-name")).to_contain_text("Konnectify")
