"""The product's URLs plus ``/bench/bare/``, a view doing nothing, as the baseline."""

from django.db import transaction
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from konnectify.urls import urlpatterns as product_urlpatterns


@csrf_exempt
@transaction.non_atomic_requests
def bare(request):
    """Answer 200 after the same middleware as every view, touching nothing else."""
    return HttpResponse(b'{"ok": true}', content_type="application/json")


urlpatterns = [path("bench/bare/", bare), *product_urlpatterns]
