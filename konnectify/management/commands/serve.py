"""Run the web app (gunicorn) and the django-q2 worker cluster as one unit.

Ctrl-C or SIGTERM stops both; if either exits, the other is stopped too, so a
half-running product never goes unnoticed. The worker finishes the tasks in hand
first (``manage.py worker``), for up to Q_TIMEOUT seconds.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from konnectify.platform import metrics_store, processes


class Command(BaseCommand):
    help = "Serve the web app and run the background worker until interrupted."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bind", default=os.environ.get("BIND", "127.0.0.1:8000"))
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2"))
        )

    def handle(self, *args, bind: str, web_workers: int, **options) -> None:
        python = sys.executable
        commands = {
            "web": [
                python, "-m", "gunicorn", "konnectify.wsgi",
                "--bind", bind, "--workers", str(web_workers), "--access-logfile", "-",
            ],
            "worker": [python, "manage.py", "worker"],
        }  # fmt: skip
        # Counters start from zero with the processes that write them (Prometheus reads a
        # drop as a restart); nothing of this product writes there yet.
        metrics_store.reset(settings.METRICS_DIR)
        children = {name: processes.start(cmd) for name, cmd in commands.items()}
        self.stdout.write(f"Serving on http://{bind}/ (admin at /admin/); worker running.")
        stop = {"requested": False}

        def request_stop(signum, frame) -> None:
            stop["requested"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        exited = None
        parent = os.getppid()
        # A parent that dies without signalling us (make killed by a timeout)
        # leaves us re-parented: treat that like Ctrl-C.
        while not stop["requested"] and exited is None and os.getppid() == parent:
            exited = next((n for n, p in children.items() if p.poll() is not None), None)
            time.sleep(0.2)
        if exited:
            self.stderr.write(f"The {exited} process exited; stopping the rest.")
        # The worker finishes the task in hand, which may take up to its timeout.
        processes.stop(*children.values(), timeout=settings.Q_TIMEOUT + 5)
        if exited:
            sys.exit(1)
