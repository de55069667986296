"""The product's settings with django-q2's ``save_limit`` from BENCH_Q_SAVE_LIMIT (bench only).

For bench/brokers.py ``--save-limit``: measures the cost of the cluster's monitor
saving each successful task (konnectify/settings.py keeps the last 1,000; -1 keeps none).
"""

import os

from konnectify.settings import *  # noqa: F403
from konnectify.settings import Q_CLUSTER

Q_CLUSTER = {**Q_CLUSTER, "save_limit": int(os.environ.get("BENCH_Q_SAVE_LIMIT", "1000"))}
