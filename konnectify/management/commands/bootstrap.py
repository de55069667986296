"""Prepare a database for use: cache table, periodic jobs and a first admin user.

Safe to run at every start (``make run`` does): each part is skipped when it
is already there.
"""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from konnectify.schedules import ensure_schedules


class Command(BaseCommand):
    help = "Create the cache table, the periodic jobs and, if there is no superuser, an admin."

    def handle(self, *args, **options) -> None:
        call_command("createcachetable", verbosity=0)
        for schedule in ensure_schedules():
            self.stdout.write(f"Periodic job ready: {schedule.name}")
        self.ensure_admin()

    def ensure_admin(self) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("ADMIN_USERNAME") or "admin"
        password = os.environ.get("ADMIN_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username, os.environ.get("ADMIN_EMAIL", ""), password)
        self.stdout.write(self.style.SUCCESS(f"Created admin user {username!r}."))
        if generated:
            # Printed once, here; it is stored only as a hash.
            self.stdout.write(f"Its password (shown only now): {password}")
