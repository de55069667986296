"""Fixtures shared by the whole suite, and how it is split between pytest-xdist workers."""

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.contrib.auth.models import Permission

BASE_DIR = Path(__file__).resolve().parent.parent
ARTIFACTS = BASE_DIR / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
WORKERS_SCREENSHOTS: list[int] = []  # on the xdist controller: each finished worker's count
# Tests that share one running product (a package-scoped stack) or one scratch folder run
# on one pytest-xdist worker, one after the other; every other test goes wherever a worker
# is free. Path prefix (of the test's id, relative to the project) -> (group, parts): with
# more than one part, the folder's modules are dealt out in turn (sorted by name) to that
# many groups, each on a worker with a stack of its own.
XDIST_GROUPS = {
    "tests/e2e/": ("e2e", 1),  # the end-to-end stack: started once for the folder
    "tests/browser/": ("browser", 2),  # the same stack, for Chromium: the longest folder
    # The scripts share /tmp/konnectify-bench-data and their log files in test-artifacts/.
    "tests/bench/test_scripts_run.py": ("bench-scripts", 1),
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs):
    """Give each xdist worker a DATA_DIR and metrics folder of its own (``<DATA_DIR>/<gw>``),
    and a Redis database of its own when REDIS_URL is set.

    The settings are read when a worker starts, before any conftest runs there, so these
    are set in its environment (execnet's ``env:`` of its spec). The SQLite test database
    lives in DATA_DIR (pytest-django also suffixes its name with the worker's id, and a
    PostgreSQL test database's too); Prometheus' multiprocess folder is emptied by
    ``manage.py serve`` and summed by /metrics, so one shared by two workers mixes their
    counts. Every child process a test starts inherits them.
    """
    base = Path(os.environ.get("DATA_DIR") or BASE_DIR / "data")
    redis_url = os.environ.get("REDIS_URL", "")
    for number, spec in enumerate(specs, start=1):
        data_dir = base / f"xdist-{spec.id}"
        spec.env["DATA_DIR"] = str(data_dir)
        spec.env["PROMETHEUS_MULTIPROC_DIR"] = str(data_dir / "metrics")
        if redis_url:
            spec.env["REDIS_URL"] = redis_database(redis_url, number)


def redis_database(url: str, number: int) -> str:
    """``url`` (redis://host:port[/db]) moved ``number`` databases up, for one worker.

    Only when REDIS_URL is set (the tests and CI use the ORM broker otherwise): django-q2
    keeps one queue per cluster name in a Redis database, so workers sharing one would
    take each other's tasks, whose ids belong to another worker's test database.
    """
    parts = urlsplit(url)
    current = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{current + number}"))


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``-n N`` (``--dist load`` or ``loadgroup``): the tests of each group of XDIST_GROUPS
    are one unit of work, run on one worker; the others are sent one by one as in ``load``.

    A scheduler rather than ``xdist_group`` marks: xdist tells a test's group through its
    node id, which pytest 9.2 no longer lets a plugin change (pytest-xdist issue 1386).
    """
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FolderGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            for prefix, (group, parts) in XDIST_GROUPS.items():
                if nodeid.startswith(prefix):
                    return group if parts == 1 else f"{group}-{self._part(prefix, nodeid, parts)}"
            return super()._split_scope(nodeid)

        def _part(self, prefix: str, nodeid: str, parts: int) -> int:
            modules = sorted({n.split("::")[0] for n in self.collection if n.startswith(prefix)})
            return modules.index(nodeid.split("::")[0]) % parts

    return FolderGroups(config, log)


def screenshots_taken() -> int:
    """How many screenshots the browser tests of this process took (tests.browser.admin_pages)."""
    pages = sys.modules.get("tests.browser.admin_pages")
    return len(pages.TAKEN) if pages is not None else 0


def pytest_sessionfinish(session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker: tell the controller
        session.config.workeroutput["screenshots"] = screenshots_taken()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    WORKERS_SCREENSHOTS.append(getattr(node, "workeroutput", {}).get("screenshots", 0))


def pytest_terminal_summary(terminalreporter) -> None:
    """Where the browser tests' screenshots are, and how many this run took."""
    taken = screenshots_taken() + sum(WORKERS_SCREENSHOTS)
    if taken:
        terminalreporter.write_line(f"Screenshots: {SCREENSHOTS} ({taken} this run)")


@pytest.fixture(autouse=True)
def fresh_receiver_cache():
    """Connections changed with QuerySet.update() send no signal: start every test afresh."""
    from connections import receiver_cache

    receiver_cache.forget()
    yield
    receiver_cache.forget()


@pytest.fixture(autouse=True)
def fresh_throttles(request, django_db_blocker):
    """Failed API tokens and the runs chart's counts are kept in the database cache, whose
    table the flush after a transactional test leaves alone: clear it then, as other
    tests' rollback does (the browser and end-to-end tests are transactional through
    their ``transactional_db`` fixture, the others through their marker).
    """
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and marker.kwargs.get("transaction")
    if transactional or "transactional_db" in request.fixturenames:
        from django.core.cache import cache

        with django_db_blocker.unblock():
            cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(request):
    """A fast hasher (MD5) for every test but those of the running product's stack.

    Hashing is not under test, and Django's default hasher is slow on purpose: about
    0.4 s of CPU for each user a fixture makes, in hundreds of tests. The browser and
    end-to-end tests keep the real hashers: their servers (tests/e2e/stack.py) check the
    passwords of users made here with the settings they run on.
    """
    if "product_stack" in request.fixturenames:
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def artifacts() -> Path:
    """A folder for logs and screenshots that CI keeps after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw-123456!")
    client.force_login(user)
    return client


@pytest.fixture
def staff(django_user_model):
    """A staff user ("editor") without any permission yet."""
    return django_user_model.objects.create_user("editor", password="pw-123456!", is_staff=True)


@pytest.fixture
def staff_as(client, staff):
    """The admin client of ``staff``, holding the given permissions (by codename)."""

    def login(*codenames: str):
        staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client.force_login(staff)
        return client

    return login
