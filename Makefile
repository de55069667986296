# The two commands of README.md: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# Test processes (pytest-xdist workers), each with its own database, DATA_DIR and running
# product; 0 runs the suite in this one process (serially), e.g. `make test PYTEST_WORKERS=0`.
# The tests write bytecode caches (git ignores __pycache__/) even where the environment says
# not to, so the workers and the servers the tests start compile the code once.
PYTEST_WORKERS ?= 3

.PHONY: install run test lint format demo chromium

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The product on the embedded default: web app + background worker, Ctrl-C stops both.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap
	$(PY) manage.py serve

# The product with localstripe beside it, demo workflows and events: no Stripe account
# needed. Its own SQLite database in data/demo (never your real one); Ctrl-C stops all.
DEMO_ENV := env -u DATABASE_URL -u REDIS_URL DATA_DIR=data/demo
demo: install
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py bootstrap
	$(DEMO_ENV) $(PY) manage.py demo

# The browser tests drive Debian's Chromium; Playwright never downloads a browser.
# As root it is installed with apt-get; anyone else is told the one command to run.
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	  else echo "The browser tests need Debian's Chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

# The whole suite: lint, format check, import layers (pyproject.toml's importlinter
# contracts), tests (SQLite unless DATABASE_URL says otherwise).
test: install chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
