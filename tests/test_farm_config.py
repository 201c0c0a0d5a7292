"""Farm options: bounds, defaults and the errors people get (pure, no Ray)."""

from __future__ import annotations

import pytest

from trigger.errors import ConfigError
from trigger.runtime.ray.config import FarmConfig


def test_pool_bounds_default_to_a_fixed_pool() -> None:
    cfg = FarmConfig(filters=3)
    assert cfg.pool_bounds == (3, 3) and not cfg.autoscaling
    auto = FarmConfig(filters=2, min_filters=1, max_filters=8)
    assert auto.pool_bounds == (1, 8) and auto.autoscaling


def test_gpu_only_filters_and_fractions() -> None:
    assert FarmConfig(cpus_per_filter=0, gpus_per_filter=0.25).gpus_per_filter == 0.25
    with pytest.raises(ConfigError, match="whole"):
        FarmConfig(gpus_per_filter=1.5)
    with pytest.raises(ConfigError, match="some CPU or GPU"):
        FarmConfig(cpus_per_filter=0, gpus_per_filter=0)


@pytest.mark.parametrize(("kw", "words"), [
    ({"filters": 5, "max_filters": 4}, "filters (5) <= max_filters (4)"),
    ({"filters": 1, "min_filters": 2}, "min_filters (2) <= filters (1)"),
    ({"credits": 0}, "credits must be >= 1"),
    ({"placement": "gpu"}, "placement must be"),
    ({"backfill_batch_size": 0}, "backfill_batch_size"),
])
def test_bad_options_say_what_and_how(kw: dict, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        FarmConfig(**kw)
    assert words in str(err.value)


def test_paced_and_backfill_defaults() -> None:
    assert not FarmConfig().paced and FarmConfig(rate="5kHz").paced
    assert FarmConfig(batch_size=4096).effective_backfill_batch_size == 1024
