"""Every link of the admin pages staff operate from (index, connections, inbox) answers:
no 404, and no "View site" leading to a page the product does not have."""

import re
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest
from django.urls import reverse

from tests.support.factories import inbox_event, make_workflow
from workflows.engine import create_run
from workflows.models import Run, RunStatus

pytestmark = pytest.mark.django_db

HREF = re.compile(r'\shref="([^"]*)"')
FIND = [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})]


@pytest.fixture
def pages(connection) -> list[str]:
    """The operating pages, with a run so that run links and chart bars are there too."""
    workflow = make_workflow(connection, "customer.created", FIND, name="Sync", active=False)
    event = inbox_event(connection)
    run = create_run(workflow, event=event, enqueue=False)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    return [
        reverse("admin:index"),
        reverse("admin:connections_connection_changelist"),
        reverse("admin:connections_connection_change", args=[connection.pk]),
        reverse("admin:connections_inboxevent_changelist"),
        reverse("admin:connections_inboxevent_change", args=[event.pk]),
    ]


def links(page: str, html: str) -> set[str]:
    """The page's own links (same site, no fragment-only or javascript: ones)."""
    found = set()
    for href in HREF.findall(html):
        url = urljoin(page, unescape(href))
        parts = urlsplit(url)
        if parts.scheme in ("", "http", "https") and parts.netloc in ("", "testserver"):
            if href.startswith("#"):
                continue
            found.add(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def test_no_link_of_the_operating_pages_is_broken(staff_client, pages):
    checked = {}
    for page in pages:
        response = staff_client.get(page)
        assert response.status_code == 200, page
        for link in links(page, response.content.decode()) - checked.keys():
            checked[link] = staff_client.get(link).status_code
    broken = {link: status for link, status in checked.items() if status >= 400}
    assert not broken
    # The crawl saw the pages' own links, not only the navigation.
    assert any("event__id__exact" in link for link in checked)
    assert any("created_at" in link and "status__exact" in link for link in checked)  # bars
    assert any("/admin/workflows/run/" in link and "/change/" in link for link in checked)


def test_there_is_no_view_site_link_to_a_missing_page(staff_client, pages):
    html = staff_client.get(reverse("admin:index")).content.decode()

    assert "View site" not in html
