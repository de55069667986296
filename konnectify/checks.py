"""System checks with stable ids for risky or broken configuration."""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from konnectify.platform.ratelimit import MAX_WAIT_SECONDS


@register(Tags.compatibility)
def check_queue_timeouts(app_configs, **kwargs) -> list:
    cluster = settings.Q_CLUSTER
    errors = []
    if cluster["timeout"] >= cluster["retry"]:
        errors.append(
            Error(
                f"Q_TIMEOUT ({cluster['timeout']}s) must be below Q_RETRY ({cluster['retry']}s).",
                hint="Otherwise the broker hands a still-running task to a second worker.",
                id="konnectify.E001",
            )
        )
    inline = settings.WORKFLOW_RETRY_INLINE_SECONDS
    if inline * 2 >= cluster["timeout"]:
        errors.append(
            Error(
                f"WORKFLOW_RETRY_INLINE_SECONDS ({inline}s) must be under half of Q_TIMEOUT "
                f"({cluster['timeout']}s).",
                hint="A worker waiting for a retry must not be killed by the task timeout.",
                id="konnectify.E004",
            )
        )
    return errors


# Rendering a step's input, the database writes around the call, and some slack.
ATTEMPT_MARGIN_SECONDS = 5


def longest_attempt_seconds() -> float:
    """The longest one step attempt can keep a worker, in seconds.

    Connecting and reading are the Stripe client's timeouts (a call may take
    both); the rate limiter may sleep before it; a task also waits out short
    retries inline, up to WORKFLOW_RETRY_INLINE_SECONDS; plus a margin.
    """
    return (
        settings.STRIPE_CONNECT_TIMEOUT
        + settings.STRIPE_READ_TIMEOUT
        + MAX_WAIT_SECONDS
        + settings.WORKFLOW_RETRY_INLINE_SECONDS
        + ATTEMPT_MARGIN_SECONDS
    )


@register(Tags.compatibility)
def check_attempt_fits_the_task(app_configs, **kwargs) -> list:
    """konnectify.E005: Q_TIMEOUT must hold one whole attempt, or a slow call is killed.

    A task killed mid-call leaves its step to the sweeper, which tries it again
    with the same key: a call slower than the task would be taken again and again.
    """
    timeout = settings.Q_CLUSTER["timeout"]
    needed = longest_attempt_seconds()
    if timeout >= needed:
        return []
    return [
        Error(
            f"Q_TIMEOUT ({timeout}s) must be at least {needed:g}s: STRIPE_CONNECT_TIMEOUT "
            f"({settings.STRIPE_CONNECT_TIMEOUT}s) + STRIPE_READ_TIMEOUT "
            f"({settings.STRIPE_READ_TIMEOUT}s) + the rate limiter's longest wait "
            f"({MAX_WAIT_SECONDS:g}s) + WORKFLOW_RETRY_INLINE_SECONDS "
            f"({settings.WORKFLOW_RETRY_INLINE_SECONDS}s) + {ATTEMPT_MARGIN_SECONDS}s for "
            "rendering and saving.",
            hint="Raise Q_TIMEOUT (and Q_RETRY above it), or lower the Stripe timeouts: "
            "otherwise a slow Stripe call outlives its task and the step is taken again.",
            id="konnectify.E005",
        )
    ]


@register(Tags.database)
def check_sqlite_in_production(app_configs, **kwargs) -> list:
    engine = settings.DATABASES["default"]["ENGINE"]
    if not settings.DEBUG and engine.endswith("sqlite3"):
        return [
            Warning(
                "SQLite is the embedded default; production should use PostgreSQL.",
                hint="Set DATABASE_URL=postgres://... so several workers can share it.",
                id="konnectify.W001",
            )
        ]
    return []


@register(Tags.security)
def check_encryption_keys(app_configs, **kwargs) -> list:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        return [
            Error(
                "FIELD_ENCRYPTION_KEYS is not set: Stripe keys cannot be stored.",
                hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="konnectify.E002",
            )
        ]
    errors = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                Error(
                    f"FIELD_ENCRYPTION_KEYS entry {position} is not a valid Fernet key.",
                    hint="Each key is 32 url-safe base64-encoded bytes.",
                    id="konnectify.E003",
                )
            )
    return errors
