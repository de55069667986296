"""WSGI entry point (gunicorn konnectify.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konnectify.settings")
application = get_wsgi_application()
