"""A run's page shows a skipped step's reason and a for-each step's items."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from workflows.admin.runs import condition_text, for_each_facts, items_details
from workflows.models import Run, RunStatus, StepRun

from .conftest import make_workflow

pytestmark = pytest.mark.django_db

REASON = "Run only if: trigger.data.object.amount_due gt 0: was 0."
LINES = "trigger.data.object.lines.data"


def step_run(run: Run, order: int, name: str, **fields) -> StepRun:
    defaults = {
        "action_key": "create_invoice_item",
        "on_failure": "stop",
        "created_at": timezone.now(),
    }
    return StepRun.objects.create(run=run, order=order, step_name=name, **{**defaults, **fields})


@pytest.fixture
def run(connection) -> Run:
    workflow = make_workflow(connection, "invoice.created", [], active=False)
    run = Run.objects.create(workflow=workflow, status=RunStatus.FAILED, error="bill failed")
    step_run(
        run,
        1,
        "only_if_due",
        status=RunStatus.SKIPPED,
        condition=[{"path": "trigger.data.object.amount_due", "op": "gt", "value": 0}],
        skip_reason=REASON,
    )
    step_run(
        run,
        2,
        "bill",
        status=RunStatus.FAILED,
        for_each=LINES,
        condition=[{"path": LINES, "op": "exists"}],
        item_count=3,
        input=[{"price": "price_A"}, {"price": "price_B"}, {"price": "price_C"}],
        output=[{"id": "ii_First", "price": "price_A"}, {"id": "ii_Second"}],
        error={"type": "invalid_request_error", "message": "Item 3 of 3: No such price", "item": 2},
    )
    step_run(run, 3, "after", status=RunStatus.SKIPPED)
    return run


def page(client, run: Run) -> str:
    response = client.get(reverse("admin:workflows_run_change", args=[run.pk]))
    assert response.status_code == 200
    return response.content.decode()


def step_block(html: str, name: str) -> str:
    start = html.index(f'title="{name}"')
    end = html.find('<tbody class="run-step"', start)
    return html[start : end if end > -1 else len(html)]


def test_a_skipped_step_says_skipped_and_why(staff_client, run):
    block = step_block(page(staff_client, run), "only_if_due")
    assert '<span class="run-status run-status-skipped">Skipped</span>' in block
    assert f"<strong>Skipped.</strong> {REASON}" in block
    assert "run-step-condition" not in block  # the reason says it already
    assert "No input, output or error recorded yet." not in block


def test_a_step_not_reached_says_the_run_stopped_before_it(staff_client, run):
    block = step_block(page(staff_client, run), "after")
    assert "<strong>Skipped.</strong> The run stopped before this step." in block


def test_a_for_each_step_shows_its_items_and_which_one_failed(staff_client, run):
    block = step_block(page(staff_client, run), "bill")
    text = re.sub(r"<[^>]+>", "", block)
    text = re.sub(r"\s+", " ", text)
    assert f"Run only if {LINES} exists" in text  # its condition held: it ran
    assert f"For each item of {LINES}: 3 items · 2 done · item 3 of 3 failed" in text
    assert "Input: 3 items" in text
    assert "Output: 2 of 3 items" in text
    assert "Item 1 · ii_First" in text and "Item 2 · ii_Second" in text
    assert block.count('class="run-json run-item"') == 5  # 3 inputs, 2 outputs
    assert "Item 3 of 3: No such price" in text


def test_item_blocks_escape_and_name_single_items():
    html = str(items_details("Output", [{"id": "<b>x</b>"}], 1))
    assert "Output: 1 item" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert items_details("Output", [], 0) == ""


def test_condition_words_and_for_each_facts():
    rules = [
        {"path": "steps.find.email", "op": "exists"},
        {"path": "trigger.data.object.status", "op": "in", "value": ["open", "draft"]},
    ]
    step = StepRun(condition=rules, condition_match="any")
    assert condition_text(step) == (
        'any of: steps.find.email exists; trigger.data.object.status in ["open", "draft"]'
    )
    assert condition_text(StepRun(condition=[])) == ""
    assert for_each_facts(StepRun(for_each="")) is None
    facts = for_each_facts(StepRun(for_each=LINES, item_count=0, output=[], error={}))
    assert facts == {"path": LINES, "count": 0, "done": 0, "failed_item": None}
