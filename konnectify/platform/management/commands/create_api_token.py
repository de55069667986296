"""Issue an API token from the command line; the token is printed once.

Not permission-checked: commands run as the operator, who holds the database and
the encryption keys anyway. In admin only a superuser may issue another user's token.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from konnectify.platform.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token acting as USER; prints the token once (it is stored hashed)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True, help="username the token acts as")
        parser.add_argument("--name", required=True, help="what the token is for")
        parser.add_argument("--read-only", action="store_true", help="the token may only read")

    def handle(self, *args, user: str, name: str, read_only: bool, **options) -> None:
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"--user: no user named {user!r}.") from None
        token, raw = ApiToken.issue(name=name, user=owner, read_only=read_only)
        self.stderr.write(f"Token {token.name!r} for {owner}; it is shown only now:")
        self.stdout.write(raw)
