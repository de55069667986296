"""Periodic jobs of the workflows app (created by ``manage.py bootstrap``)."""

SCHEDULES = [
    {
        "name": "workflows: retry sweeper",
        "func": "workflows.tasks.sweep",
        "schedule_type": "I",
        "minutes": 1,
        "repeats": -1,
    },
    {
        "name": "workflows: failure alert digests",
        "func": "workflows.alerts.send_due_digests",
        "schedule_type": "I",
        "minutes": 1,
        "repeats": -1,
    },
    {
        "name": "workflows: prune old runs and inbox events",
        "func": "workflows.tasks.prune",
        "schedule_type": "D",
        "repeats": -1,
    },
]
