import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from trigger.engine import Engine
from trigger.errors import ConfigError
from trigger.io.batch import EventBatch
from trigger.io.pacer import Pacer, parse_rate
from trigger.menu import compile_menu, load_menu
from trigger.runtime.local import LocalReplay, ReplayConfig
from trigger.testing import make_batch, write_ipc

MENU = "menu: m\nversion: 1\nstreams: {S: {}}\npaths:\n  - name: P\n    cut: n_muons(pt > 20) >= 1\n    stream: S\n"


class FakeClock:
    """A clock that only moves when slept on, or when the consumer is slow (``work_ns`` per read)."""

    def __init__(self, *, work_ns=0):
        self.now = 1_000_000_000_000
        self.work_ns = work_ns
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += int(round(seconds * 1e9))


def _batches(sizes, clock=None):
    start = 0
    for n in sizes:
        data = make_batch([{"event": start + i, "muons": [{"pt": 30.0}], "raw": b"x" * 100} for i in range(n)],
                          with_raw=True)
        yield EventBatch(f"0:{start}", "f", start, start + n, data, 0)
        start += n
        if clock is not None:
            clock.now += clock.work_ns  # the consumer takes this long before asking for the next batch


@pytest.mark.parametrize(
    ("text", "per_s", "unit"),
    [("100kHz", 1e5, "events"), ("5000", 5e3, "events"), ("2.5e5/s", 2.5e5, "events"), ("1M", 1e6, "events"),
     ("5k events/s", 5e3, "events"), ("2GB/s", 2e9, "bytes"), ("500MiB/s", 500 * 2**20, "bytes")],
)
def test_parse_rate(text, per_s, unit):
    rate = parse_rate(text)
    assert rate.per_s == pytest.approx(per_s) and rate.unit == unit


@pytest.mark.parametrize(("text", "message"), [("2GB", "needs '/s'"), ("fast", "expected a number"),
                                               ("0", "above 0"), ("3 furlongs/s", "unknown unit 'furlongs")])
def test_parse_rate_refuses_with_examples(text, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_rate(text)
    assert "100kHz" in str(info.value)


def test_events_are_stamped_on_schedule_and_batches_leave_when_their_last_event_is_due():
    clock = FakeClock()
    pacer = Pacer(parse_rate("1kHz"), clock_ns=clock, sleep_s=clock.sleep)
    t0 = clock.now
    out = list(pacer.pace(_batches([4, 4, 2])))
    stamps = np.concatenate([b.data.column("timestamp_ns").to_numpy() for b in out])
    assert stamps.tolist() == [t0 + (j + 1) * 1_000_000 for j in range(10)]  # event j due at (j+1) ms
    assert [b.emitted_ns for b in out] == [t0 + 4_000_000, t0 + 8_000_000, t0 + 10_000_000]
    assert clock.sleeps == pytest.approx([0.004, 0.004, 0.002])
    summary = pacer.summary()
    assert summary["behind_max_ms"] == 0 and summary["late_batches"] == 0
    assert summary["achieved_per_s"] == pytest.approx(1000, rel=1e-3)
    assert [b.data.column("raw")[0].as_py() for b in out] == [b"x" * 100] * 3  # payload untouched


def test_a_slow_consumer_shows_how_far_the_replay_fell_behind():
    clock = FakeClock(work_ns=10_000_000)  # 10 ms per batch, batches due every 4 ms
    pacer = Pacer(parse_rate("1kHz"), clock_ns=clock, sleep_s=clock.sleep)
    out = list(pacer.pace(_batches([4, 4, 4], clock)))
    # batch 0 due at 4 ms; batch 1 asked for at 14 ms (due 8): 6 ms late; batch 2 at 24 (due 12): 12 ms late
    assert pacer.summary()["behind_final_ms"] == pytest.approx(12.0)
    assert pacer.summary()["behind_max_ms"] == pytest.approx(12.0)
    assert pacer.summary()["late_batches"] == 2
    assert pacer.summary()["achieved_per_s"] < 1000
    # latency is measured from the schedule: emitted_ns stays the due time, not the late one
    assert out[2].emitted_ns == out[0].emitted_ns + 8_000_000


def test_a_byte_rate_spaces_batches_by_their_size():
    clock = FakeClock()
    t0 = clock.now
    out = list(Pacer(parse_rate("1MB/s"), clock_ns=clock, sleep_s=clock.sleep).pace(_batches([2, 6])))
    sizes = [b.data.nbytes for b in out]
    assert out[0].emitted_ns - t0 == pytest.approx(sizes[0] * 1000, abs=1)  # 1 byte takes 1 us at 1 MB/s
    assert out[1].emitted_ns - out[0].emitted_ns == pytest.approx(sizes[1] * 1000, abs=1)


def test_paced_local_replay_stamps_outputs_and_reports_latency_and_lag(tmp_path):
    batches = [make_batch([{"event": b * 100 + i, "muons": [{"pt": 30.0, "iso": 0.01}]} for i in range(100)])
               for b in range(3)]
    path = write_ipc(batches, tmp_path / "in.arrow")
    menu = load_menu(MENU)
    config = ReplayConfig(batch_size=50, workers=1, progress=False, rate="20kHz")
    summary = LocalReplay(Engine(compile_menu(menu)), tmp_path / "out", config=config).run([str(path)])
    assert summary["events_kept"] == 300 and summary["ledger_ok"]
    pacing = summary["pacing"]
    assert pacing["events"] == 300 and pacing["batches"] == 6 and pacing["rate"] == "20kHz"
    assert pacing["batch_fill_ms"] == pytest.approx(2.5)
    assert set(summary["latency_ms"]) == {"p50", "p99", "max"} and summary["latency_ms"]["max"] > 0
    kept = pq.read_table(sorted((tmp_path / "out").rglob("*.parquet"))[0]).column("timestamp_ns").to_numpy()
    assert np.all(np.diff(kept) == 50_000)  # one event every 50 us, restamped at its scheduled time
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["pacing"]["unit"] == "events/s"


def test_bad_rate_is_refused_before_reading():
    with pytest.raises(ConfigError, match="rate 'soon'"):
        ReplayConfig(rate="soon")
