"""Settings for benchmarks only: the product's settings plus a bare view to compare against."""

from konnectify.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
