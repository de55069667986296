"""``make demo`` takes its ports from the environment, as ``make run`` takes BIND."""

from konnectify.management.commands.demo import Command


def parsed(*args: str):
    return Command().create_parser("manage.py", "demo").parse_args(args)


def test_the_demo_ports_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_PORT", "8133")
    monkeypatch.setenv("DEMO_STRIPE_PORT", "8433")

    options = parsed()

    assert (options.port, options.stripe_port) == (8133, 8433)


def test_without_the_environment_the_demo_uses_its_default_ports(monkeypatch):
    monkeypatch.delenv("DEMO_PORT", raising=False)
    monkeypatch.delenv("DEMO_STRIPE_PORT", raising=False)

    options = parsed()

    assert (options.port, options.stripe_port) == (8100, 8420)
