"""Admin for workflows and runs: declarative; the logic lives in services and the engine."""

from workflows.admin import runs, workflow  # noqa: F401  (registers the model admins)
