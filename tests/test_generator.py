"""Tests of the synthetic event generator (trigger.io.generator, .dataset, .fourvec, .processes)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trigger.cli import generate as generate_cli
from trigger.errors import ConfigError
from trigger.io.dataset import write_dataset
from trigger.io.fourvec import from_pt_y_phi, invariant_mass, two_body_decay
from trigger.io.generator import (
    BLOCK_EVENTS,
    PROCESS_COLUMN,
    PROCESSES,
    GeneratorConfig,
    ProcessMix,
    generate_batches,
    output_schema,
)
from trigger.schema import COLLECTIONS, check_structure, event_schema, find_bad_events

ENRICHED = ProcessMix(multijet=0.5, zmumu=0.125, wenu=0.125, ttbar=0.125, exotic=0.125)
N_SAMPLE = 70_000  # crosses a block boundary


def _table(n: int, config: GeneratorConfig, **kwargs: object) -> pa.Table:
    return pa.Table.from_batches(list(generate_batches(n, config=config, **kwargs)), schema=output_schema(config))


@pytest.fixture(scope="module")
def sample() -> pa.Table:
    return _table(N_SAMPLE, GeneratorConfig(seed=7, mix=ENRICHED), batch_size=30_000).combine_chunks()


def _flat(table: pa.Table, collection: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    lists = table.column(collection).combine_chunks()
    offsets = lists.offsets.to_numpy() - lists.offsets[0].as_py()
    values = lists.values.slice(lists.offsets[0].as_py(), int(offsets[-1]))
    return offsets, {f.name: values.field(f.name).to_numpy() for f in values.type}


def _process(table: pa.Table) -> np.ndarray:
    return np.asarray(table.column(PROCESS_COLUMN).to_numpy(), dtype=str)


def _p4(obj: dict[str, np.ndarray], idx: np.ndarray) -> tuple[np.ndarray, ...]:
    pt, eta, phi, m = (obj[k][idx].astype(np.float64) for k in ("pt", "eta", "phi", "mass"))
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), np.sqrt((pt * np.cosh(eta)) ** 2 + m * m)


def test_batches_follow_the_event_model_exactly() -> None:
    config = GeneratorConfig(seed=3, mix=ENRICHED, raw_bytes_per_event=16)
    batches = list(generate_batches(5_000, config=config, batch_size=2_000))
    assert [b.num_rows for b in batches] == [2_000, 2_000, 1_000]
    for batch in batches:
        check_structure(batch.schema)
        assert batch.schema.equals(output_schema(config))
        assert batch.schema.names[:-1] == event_schema(with_raw=True).names
        assert find_bad_events(batch).n_bad == 0
    assert "raw" not in output_schema(GeneratorConfig()).names


def test_sample_is_clean_and_objects_within_acceptance(sample: pa.Table) -> None:
    for batch in sample.to_batches():
        assert find_bad_events(batch).n_bad == 0
    for name, eta_max in (("muons", 2.5), ("electrons", 2.5), ("photons", 2.5), ("jets", 4.7)):
        offsets, obj = _flat(sample, name)
        assert offsets[-1] > 100, f"{name} nearly empty"
        assert np.abs(obj["eta"]).max() < eta_max
        assert obj["phi"].min() >= -np.pi and obj["phi"].max() < np.pi
        assert (obj["pt"] > 0).all()
    met_phi = sample.column("met_phi").to_numpy()
    assert met_phi.min() >= -np.pi and met_phi.max() < np.pi


def test_collections_sorted_by_decreasing_pt(sample: pa.Table) -> None:
    for name in COLLECTIONS:
        offsets, obj = _flat(sample, name)
        rising = np.flatnonzero(np.diff(obj["pt"]) > 0) + 1
        assert np.isin(rising, offsets).all(), f"{name} not pt-sorted inside an event"


def test_header_is_unique_and_increasing(sample: pa.Table) -> None:
    config = GeneratorConfig()
    index = np.arange(N_SAMPLE)
    np.testing.assert_array_equal(sample.column("event").to_numpy(), index + 1)
    np.testing.assert_array_equal(sample.column("run").to_numpy(), 1)
    np.testing.assert_array_equal(sample.column("luminosity_block").to_numpy(), 1 + index // config.events_per_lumi)
    ts = sample.column("timestamp_ns").to_numpy()
    assert ts[0] == config.start_time_ns
    np.testing.assert_array_equal(np.diff(ts), config.event_spacing_ns)


def test_same_seed_same_events_whatever_batch_size() -> None:
    config = GeneratorConfig(seed=11, raw_bytes_per_event=13)  # 13: payloads straddle Philox words
    small = _table(N_SAMPLE, config, batch_size=1_000)
    large = _table(N_SAMPLE, config, batch_size=BLOCK_EVENTS)
    assert small.num_rows == large.num_rows == N_SAMPLE
    assert small.equals(large)
    # Random access: a window across the block boundary equals the same rows of the full stream.
    window = _table(500, config, start_event=BLOCK_EVENTS - 200, batch_size=128)
    assert window.equals(large.slice(BLOCK_EVENTS - 200, 500))
    # A prefix is the same events too.
    assert _table(3_000, config).equals(large.slice(0, 3_000))


def test_different_seeds_differ() -> None:
    a = _table(2_000, GeneratorConfig(seed=1))
    b = _table(2_000, GeneratorConfig(seed=2))
    assert not a.column("jets").equals(b.column("jets"))
    assert not np.array_equal(a.column("met_pt").to_numpy(), b.column("met_pt").to_numpy())


def test_process_fractions_follow_the_mix() -> None:
    mix = ProcessMix()
    n = 100_000
    labels = _process(_table(n, GeneratorConfig(seed=5, mix=mix)))
    for name, p in zip(PROCESSES, mix.probabilities(), strict=True):
        observed = np.count_nonzero(labels == name)
        sigma = np.sqrt(n * p * (1 - p))
        assert abs(observed - n * p) < 5 * sigma, f"{name}: {observed} vs {n * p:.0f}"
    only_z = _process(_table(1_000, GeneratorConfig(mix=ProcessMix.parse("zmumu=1"))))
    assert set(only_z) == {"zmumu"}


def test_zmumu_dimuon_mass_peaks_at_the_z(sample: pa.Table) -> None:
    offsets, mu = _flat(sample, "muons")
    counts = np.diff(offsets)
    z = (_process(sample) == "zmumu") & (counts >= 2)
    assert z.sum() > 0.7 * np.count_nonzero(_process(sample) == "zmumu")  # acceptance
    lead = offsets[:-1][z]
    mass = invariant_mass(_p4(mu, lead), _p4(mu, lead + 1))
    hist, edges = np.histogram(mass, bins=40, range=(71.0, 111.0))
    assert abs(edges[np.argmax(hist)] + 0.5 - 91.19) < 1.5
    assert abs(np.median(mass) - 91.19) < 1.0
    assert np.mean(np.abs(mass - 91.19) < 10) > 0.85
    assert (mu["charge"][lead] == -mu["charge"][lead + 1]).all()
    assert (mu["iso"][lead] < 0.15).all()


def test_signal_signatures_differ_from_background(sample: pa.Table) -> None:
    proc = _process(sample)
    e_off, el = _flat(sample, "electrons")
    j_off, jets = _flat(sample, "jets")
    m_off, mu = _flat(sample, "muons")
    met = sample.column("met_pt").to_numpy()
    ht = np.add.reduceat(np.append(jets["pt"], 0.0), j_off[:-1]) * (np.diff(j_off) > 0)
    w = (proc == "wenu") & (np.diff(e_off) >= 1)
    lead_e = el["pt"][e_off[:-1][w]]
    assert 30 < np.median(lead_e) < 45  # Jacobian peak below mW / 2
    assert np.median(met[proc == "wenu"]) > 2 * np.median(met[proc == "multijet"])
    assert np.median(ht[proc == "ttbar"]) > 2.5 * np.median(ht[proc == "multijet"])
    n_lep = np.diff(m_off) + np.diff(e_off)
    assert np.mean(n_lep[proc == "exotic"] >= 4) > 0.6
    assert np.mean(n_lep[proc == "multijet"] >= 2) < 0.01
    # Leptons inside multijet events come from b decays: mostly not isolated.
    qcd_mu = np.repeat(proc == "multijet", np.diff(m_off))
    assert np.mean(mu["iso"][qcd_mu] > 0.15) > 0.7


def test_two_body_decay_conserves_four_momentum() -> None:
    rng = np.random.default_rng(0)
    n = 1_000
    mass = np.full(n, 91.19)
    parent = from_pt_y_phi(rng.exponential(50, n), rng.normal(0, 2, n), rng.uniform(-np.pi, np.pi, n), mass)
    d1, d2 = two_body_decay(rng, parent, mass, 0.105, 0.105)
    for i in range(4):
        np.testing.assert_allclose(d1[i] + d2[i], parent[i], atol=1e-9, rtol=1e-9)
    np.testing.assert_allclose(invariant_mass(d1), 0.105, rtol=1e-4)
    np.testing.assert_allclose(invariant_mass(d1, d2), 91.19, rtol=1e-9)


def test_raw_payload_has_the_configured_size() -> None:
    batch = next(generate_batches(300, config=GeneratorConfig(raw_bytes_per_event=100), batch_size=300))
    raw = batch.column("raw")
    assert raw.type == pa.large_binary()
    _, offsets, data = raw.buffers()
    np.testing.assert_array_equal(np.frombuffer(offsets, dtype=np.int64)[:301], np.arange(301) * 100)
    assert data.size >= 300 * 100  # one shared buffer, not per-event objects
    payloads = raw.to_pylist()
    assert {len(p) for p in payloads} == {100}
    assert len(set(payloads)) == 300


def test_write_dataset_streams_both_formats(tmp_path: pytest.TempPathFactory) -> None:
    config = GeneratorConfig(seed=4, mix=ENRICHED, raw_bytes_per_event=8)
    files = write_dataset(5_000, tmp_path, config=config, batch_size=1_500, row_group_size=2_000)
    assert [p.name for p in files] == ["events.parquet", "events.arrow"]
    assert not list(tmp_path.glob("*.tmp"))
    expected = _table(5_000, config)
    parquet = pq.ParquetFile(files[0])
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [2_000, 2_000, 1_000]
    assert parquet.read().equals(expected)
    with pa.ipc.open_file(files[1]) as reader:
        assert [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)] == [1_500] * 3 + [500]
        assert reader.read_all().equals(expected)
    meta = json.loads((tmp_path / "events.json").read_text())
    labels = _process(expected)
    assert meta["process_counts"] == {p: int(np.count_nonzero(labels == p)) for p in PROCESSES}
    assert meta["config"]["seed"] == 4 and meta["n_events"] == 5_000
    assert meta["files"]["events.arrow"] == files[1].stat().st_size


def test_bad_mix_and_config_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="did you mean 'zmumu'"):
        ProcessMix.parse("multijet=0.9,zmumuu=0.1")
    with pytest.raises(ConfigError, match="'wenu' is -0.1"):
        ProcessMix(wenu=-0.1)
    with pytest.raises(ConfigError, match="all fractions are 0"):
        ProcessMix.parse("multijet=0")
    with pytest.raises(ConfigError, match="NAME=FRACTION"):
        ProcessMix.parse("multijet")
    with pytest.raises(ConfigError, match="not a number"):
        ProcessMix.parse("ttbar=lots")
    with pytest.raises(ConfigError, match="events_per_lumi"):
        GeneratorConfig(events_per_lumi=0)
    with pytest.raises(ConfigError, match="did you mean 'parquet'"):
        write_dataset(10, "unused", config=GeneratorConfig(), formats=("parquett",))
    with pytest.raises(ConfigError, match="batch_size"):
        next(generate_batches(10, config=GeneratorConfig(), batch_size=0))


def test_cli_generate_writes_and_reports(tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    generate_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["generate", "--events", "1200", "--out", str(tmp_path), "--format", "ipc",
                              "--mix", "wenu=1", "--raw-bytes", "4", "--seed", "9"])
    assert args.func(args) == 0
    assert "1,200 events" in capsys.readouterr().out
    table = pa.ipc.open_file(tmp_path / "events.arrow").read_all()
    assert table.num_rows == 1_200 and set(_process(table)) == {"wenu"}
    assert not (tmp_path / "events.parquet").exists()
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "--events", "0", "--out", str(tmp_path)])
