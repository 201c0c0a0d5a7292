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
    ({"sink_group_batches": 0}, "sink_group_batches must be >= 1"),
    ({"sink_group_delay_s": 0}, "sink_group_delay_s must be > 0"),
])
def test_bad_options_say_what_and_how(kw: dict, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        FarmConfig(**kw)
    assert words in str(err.value)


def test_paced_and_backfill_defaults() -> None:
    assert not FarmConfig().paced and FarmConfig(rate="5kHz").paced
    assert FarmConfig(batch_size=4096).effective_backfill_batch_size == 1024


@pytest.mark.parametrize(("kw", "want"), [({"filters": 2, "credits": 2}, 2), ({"filters": 1, "credits": 1}, 1),
                                          ({"filters": 4, "min_filters": 1, "max_filters": 8, "credits": 2}, 1),
                                          ({"sink_group_batches": 6}, 6)])
def test_groups_stay_below_the_credits_held_while_they_wait(kw: dict, want: int) -> None:
    assert FarmConfig(**kw).effective_sink_group_batches == want


def test_cli_sink_group_options_reach_the_config() -> None:
    import argparse

    from trigger.cli import farm as farm_cli

    parser = argparse.ArgumentParser(prog="trigger")
    farm_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["farm", "replay", "in.arrow", "--out", "o", "--sink-group-batches", "3",
                              "--sink-group-delay-s", "0.05"])
    cfg = farm_cli.config_from_args(args)
    assert (cfg.effective_sink_group_batches, cfg.sink_group_delay_s) == (3, 0.05)
    default = farm_cli.config_from_args(parser.parse_args(["farm", "replay", "in", "--out", "o"]))
    assert default.sink_group_batches is None


def test_sources_are_dealt_shards_so_one_large_file_is_read_by_all() -> None:
    from trigger.io.batch import Shard
    from trigger.runtime.ray.driver import _split

    big = [Shard("big.parquet", "parquet", u, 100 * u, 100 * (u + 1)) for u in range(5)]
    small = [Shard("small.arrow", "ipc", 0, 0, 10)]
    plans = _split([(0, "big.parquet", big), (1, "small.arrow", small)], 2)
    assert [[(idx, [s.unit for s in shards]) for idx, _, shards in plan] for plan in plans] == [
        [(0, [0, 2, 4])], [(0, [1, 3]), (1, [0])]]
    dealt = sorted((s.path, s.unit) for plan in plans for _, _, shards in plan for s in shards)
    assert dealt == sorted((s.path, s.unit) for s in big + small)  # every shard exactly once
