"""Periodic jobs of the connections app (created by ``manage.py bootstrap``)."""

SCHEDULES = [
    {
        "name": "connections: recover missed Stripe events",
        "func": "connections.tasks.reconcile_events",
        "schedule_type": "I",
        "minutes": 15,
    },
    {
        # The one endpoint repair job: drift in Stripe and failed syncs alike.
        "name": "connections: check webhook endpoints",
        "func": "connections.tasks.check_webhook_endpoints",
        "schedule_type": "I",
        "minutes": 10,
    },
    {
        "name": "connections: re-enqueue undispatched events",
        "func": "connections.tasks.redispatch_stale_events",
        "schedule_type": "I",
        "minutes": 15,
    },
]
