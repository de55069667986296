"""The product's WSGI application as the test stack serves it (tests/e2e/stack.py).

A transactional test ends with a flush that recreates the content types under new ids;
a web process keeps the ids it has looked up (ContentType's cache), and admin's change
log (LogEntry) written with an old id fails its foreign key. Here every request starts
with that cache emptied, as in a process started after the flush.
"""

from konnectify.wsgi import application as product


def application(environ, start_response):
    """konnectify.wsgi's application, with ContentType's cache emptied first."""
    from django.contrib.contenttypes.models import ContentType  # once Django is set up

    ContentType.objects.clear_cache()
    return product(environ, start_response)
