from trigger.io.batch import Shard
from trigger.runtime.ledger import Ledger, LedgerRecord, read_ledger


def _rec(a, b, *, kept=1, rejected=None, q=0, source="f"):
    rejected = (b - a - kept - q) if rejected is None else rejected
    return LedgerRecord(f"0:{a}", source, a, b, b - a, kept, rejected, q)


SHARDS = [Shard("f", "parquet", 0, 0, 10), Shard("f", "parquet", 1, 10, 20)]


def test_complete_balanced_run_verifies():
    assert Ledger.verify([_rec(0, 5), _rec(5, 10), _rec(10, 20)], SHARDS) == []


def test_unbalanced_batch_is_reported():
    problems = Ledger.verify([_rec(0, 10, rejected=2), _rec(10, 20)], SHARDS)
    assert problems == ["batch 0:0 (f): in=10 rows=10 but kept+rejected+quarantined=3"]


def test_missing_rows_are_reported():
    assert Ledger.verify([_rec(0, 5), _rec(10, 20)], SHARDS) == ["f: rows 5-10 never read"]
    assert Ledger.verify([_rec(0, 10)], SHARDS) == ["f: rows 10-20 never read"]


def test_rows_read_twice_are_reported():
    assert Ledger.verify([_rec(0, 10), _rec(5, 10), _rec(10, 20)], SHARDS) == ["f: rows 5-10 read twice"]


def test_unknown_source_is_reported():
    problems = Ledger.verify([_rec(0, 10), _rec(10, 20), _rec(0, 1, source="g")], SHARDS)
    assert problems == ["g: batches recorded for a file that was not an input"]


def test_ledger_file_round_trip(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.append(_rec(0, 10))
    ledger.close()
    assert read_ledger(tmp_path / "ledger.jsonl") == [_rec(0, 10)]
