"""Small project-level tasks."""


def echo(value):
    """Return its argument: proves a task went through the broker to a worker and back."""
    return value
