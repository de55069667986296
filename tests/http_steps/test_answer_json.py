"""An HTTP step's JSON answer is kept as JSON only within the product's one bound on JSON.

Outside it (a lone surrogate ``"\\ud800"``, ``1e400``, nesting past what json.loads
reads) the answer's body is kept as its text: the step succeeds, the run page shows it,
PostgreSQL stores it. Parsed as is, a surrogate made the run page a 500 (and the
output unstorable on PostgreSQL), 1e400 failed the output's write, and deep nesting
failed the step with a RecursionError.
"""

import pytest
from django.urls import reverse

from tests.http_steps import test_engine_http as engine_tests
from tests.http_steps.server import Answer
from tests.support.factories import make_workflow
from workflows.models import RunStatus

pytestmark = pytest.mark.django_db

connection = engine_tests.connection
crm = engine_tests.crm
run_on = engine_tests.run_on
sync_tasks = engine_tests.sync_tasks


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "x\\ud800"}',
        b'{"k\\udc00": 1}',
        b'{"amount": 1e400}',
        b"[" * 5_000 + b"]" * 5_000,
    ],
    ids=["surrogate", "surrogate key", "infinity", "deep"],
)
def test_an_answer_outside_the_bound_is_kept_as_text(
    connection, crm, server, allow_loopback, run_on, staff_client, body
):
    server.answer(lambda request: Answer(body=body))
    workflow = make_workflow(
        connection, "customer.updated", [engine_tests.http_step(server.url, credential="crm")]
    )
    step_run = run_on(workflow)
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.SUCCEEDED, step_run.error
    assert step_run.output["body"] == body.decode()
    page = staff_client.get(reverse("admin:workflows_run_change", args=[step_run.run_id]))
    assert page.status_code == 200
