"""Runtimes: where batches are executed (local threads; the Ray farm in ``runtime.ray``)."""
