import numpy as np

from trigger.runtime.latency import LatencyHistogram


def test_quantiles_within_bucket_resolution():
    rng = np.random.default_rng(1)
    values = rng.exponential(0.01, 100_000)
    h = LatencyHistogram()
    h.add(values)
    for q in (0.5, 0.99):
        assert abs(h.quantile(q) - np.quantile(values, q)) / np.quantile(values, q) < 0.03
    assert h.max_s == values.max() and h.total == values.size


def test_weights_count_events_and_merge_adds():
    a, b = LatencyHistogram(), LatencyHistogram()
    a.add(0.001, weight=99)
    b.add(1.0, weight=1)
    a.merge(b)
    assert a.total == 100
    assert a.quantile(0.5) < 0.0011 and a.quantile(1.0) == 1.0
    assert a.summary_ms()["max"] == 1000.0


def test_empty_histogram_is_zero():
    assert LatencyHistogram().summary_ms() == {"p50": 0.0, "p99": 0.0, "max": 0.0}
