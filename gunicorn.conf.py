"""gunicorn's settings for every way the product starts it from this folder
(``manage.py serve``, the tests, the benchmarks, a supervisor whose working
directory is the checkout): gunicorn reads ``./gunicorn.conf.py`` by default.
"""

# gunicorn 24+ opens a control socket under $XDG_RUNTIME_DIR or ~/.gunicorn by default;
# nothing here uses it, and a service account may have no writable home.
control_socket_disable = True


def child_exit(server, worker) -> None:
    """A web worker exited: fold its metric files into the archive (the counts stay,
    its files go), so the metrics folder does not grow with each worker ever started."""
    from konnectify.platform import metrics_store

    metrics_store.process_exited(worker.pid)
