"""Run one catalog action with a connection's credentials, for operators and scripts.

    python manage.py stripe_action create_customer --connection "Shop test" \\
        --input '{"email": "ada@example.com"}'

Prints the result as JSON on stdout. On failure prints the typed error as JSON
on stdout too (so scripts parse one stream) and exits non-zero: 2 for input
that fails validation (nothing was sent), 1 for a Stripe or network error.

Not permission-checked: management commands run as the operator, who holds the
encryption keys (FIELD_ENCRYPTION_KEYS) and the database anyway. Admin, the API
and the workflow engine check ``connections.permissions.can_use`` instead.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from connections.models import Connection
from connections.outbound import client_for
from stripe_connector.catalog import get_action
from stripe_connector.errors import ActionInputError, StripeError
from stripe_connector.jsonbounds import JSONProblem, loads

EXIT_STRIPE_ERROR = 1
EXIT_INPUT_ERROR = 2


class Command(BaseCommand):
    help = "Run one Stripe catalog action with a connection's key and print the result as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", help="The action key, e.g. create_customer.")
        parser.add_argument("--connection", required=True, help="The connection's name.")
        parser.add_argument(
            "--input", default="{}", help="The action's input as a JSON object ('-' reads stdin)."
        )
        parser.add_argument(
            "--idempotency-key", help="Reuse a key to make a retried write safe (POST only)."
        )

    def handle(self, *args, action: str, connection: str, input: str, **options) -> None:
        try:
            chosen = get_action(action)
        except KeyError as exc:
            raise CommandError(exc.args[0], returncode=EXIT_INPUT_ERROR) from None
        target = self.find(connection)
        data = self.parse_input(input)
        try:
            # The operator's command: an HTTP request step's credential is not checked.
            result = chosen.run(
                client_for(chosen, target, operator=True),
                data,
                idempotency_key=options.get("idempotency_key"),
            )
        except ActionInputError as exc:
            self.emit(exc.to_dict())
            raise CommandError(str(exc), returncode=EXIT_INPUT_ERROR) from None
        except StripeError as exc:
            self.emit(exc.to_dict())
            raise CommandError(str(exc), returncode=EXIT_STRIPE_ERROR) from None
        self.emit({"action": chosen.key, "output": result.output, "request_id": result.request_id})

    def find(self, name: str) -> Connection:
        try:
            connection = Connection.objects.get(name=name)
        except Connection.DoesNotExist:
            raise CommandError(
                f"No connection named {name!r}.", returncode=EXIT_INPUT_ERROR
            ) from None
        if connection.status == Connection.Status.DISABLED:
            raise CommandError(f"Connection {name!r} is disabled.", returncode=EXIT_INPUT_ERROR)
        if not connection.secret_key:
            raise CommandError(f"Connection {name!r} has no key.", returncode=EXIT_INPUT_ERROR)
        return connection

    def parse_input(self, text: str) -> dict:
        raw = sys.stdin.read() if text == "-" else text
        try:
            data = loads(raw)  # the product's one bound on JSON: depth, finite numbers
        except JSONProblem as exc:
            where = f"--input's {exc.field}" if exc.field else "--input"
            raise CommandError(f"{where} {exc.reason}", returncode=EXIT_INPUT_ERROR) from None
        if not isinstance(data, dict):
            raise CommandError("--input must be a JSON object.", returncode=EXIT_INPUT_ERROR)
        return data

    def emit(self, document: dict) -> None:
        self.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str))
