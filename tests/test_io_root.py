import pickle

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")

from trigger.cli.inspect import describe_file, render
from trigger.errors import InputError
from trigger.io.generator import GeneratorConfig, generate_batches
from trigger.io.mapping import ArrowMappedSource, load_mapping
from trigger.io.root import RootSource, open_root
from trigger.io.root_handles import HandleCache
from trigger.io.root_write import NANOAOD_NAMES, write_nanoaod
from trigger.io.sources import open_source

MODEL_COLUMNS = ["run", "luminosity_block", "event", "muons", "electrons", "photons", "jets", "met_pt", "met_phi"]


@pytest.fixture(scope="module")
def generated():
    """600 generated events in 4 batches (4 baskets per branch), with a recorded-looking bit."""
    batches = []
    for b in generate_batches(600, config=GeneratorConfig(seed=3), batch_size=150):
        bit = pa.array(np.arange(b.num_rows) % 3 == 0)
        batches.append(b.append_column("HLT_Test", bit))
    return batches


@pytest.fixture(scope="module")
def root_file(generated, tmp_path_factory):
    return write_nanoaod(generated, tmp_path_factory.mktemp("root") / "gen.root")


def _read_all(source, batch_size):
    return [b for shard in source.shards() for b in source.read(shard, batch_size=batch_size)]


def test_root_file_replays_the_events_it_was_written_from(generated, root_file):
    source = open_source(root_file)
    assert isinstance(source, RootSource) and source.mapping.name == "cms_nanoaod"
    assert "chosen automatically" in source.notes[0]
    got = pa.Table.from_batches(_read_all(source, 256))
    want = pa.Table.from_batches(generated)
    for name in MODEL_COLUMNS:
        assert got.column(name).equals(want.column(name).cast(got.schema.field(name).type)), name
    assert got.column("HLT_Test").equals(want.column("HLT_Test"))  # HLT_* carried through
    assert "process" not in got.schema.names  # not a flat number: not written as a branch


def test_shards_are_entry_ranges_at_basket_boundaries_and_batches_respect_the_size(generated, root_file):
    source = open_root(root_file, mapping=load_mapping("cms_nanoaod"), entries_per_shard=200)
    shards = source.shards()
    # Baskets hold 150 entries; shards close at the first basket edge past 200 entries.
    assert [(s.row_start, s.row_stop) for s in shards] == [(0, 300), (300, 600)]
    assert all(s.format == "root" for s in shards)
    sizes = [b.num_rows for b in source.read(shards[1], batch_size=128)]
    assert sizes == [128, 128, 44]
    first = next(source.read(shards[1], batch_size=1))
    assert first.column("event").to_pylist() == generated[2].column("event").to_pylist()[:1]  # entry 300


def test_a_source_travels_to_another_process_and_reads_the_same(root_file):
    source = open_source(root_file)
    shards = source.shards()
    clone = pickle.loads(pickle.dumps(source))  # what Ray does with a source
    a = next(source.read(shards[0], batch_size=100))
    b = next(clone.read(shards[0], batch_size=100))
    assert a.equals(b)


def test_nanoaod_exported_to_parquet_gets_the_shipped_mapping(root_file, tmp_path):
    tree = uproot.open(root_file)["Events"]
    table = ak.to_arrow_table(tree.arrays(library="ak"), extensionarray=False, list_to32=True)
    path = tmp_path / "nano.parquet"
    pq.write_table(table, path)
    source = open_source(path)
    assert isinstance(source, ArrowMappedSource) and source.mapping.name == "cms_nanoaod"
    batch = _read_all(source, 1000)[0]
    assert batch.num_rows == 600 and batch.column("muons").equals(
        next(open_source(root_file).read(open_source(root_file).shards()[0], batch_size=1000)).column("muons"))


def test_file_with_several_trees_and_no_tree_named_is_refused(tmp_path):
    path = tmp_path / "two.root"
    with uproot.recreate(path) as f:
        f.mktree("a", {"x": np.float64})
        f.mktree("b", {"x": np.float64})
    mapping = load_mapping("uproot_zmumu")
    with pytest.raises(InputError, match="no tree 'events'.*trees in the file: a, b"):
        open_root(path, mapping=mapping).shards()
    with pytest.raises(InputError, match="no shipped mapping fits") as info:
        open_root(path)
    assert info.value.source == str(path)


def test_corrupt_basket_names_the_branch_and_entry_range(root_file, tmp_path):
    seek = int(uproot.open(root_file)["Events"]["Muon_pt"].member("fBasketSeek")[1])
    data = bytearray(root_file.read_bytes())
    data[seek + 80:seek + 400] = b"\x55" * 320
    bad = tmp_path / "bad.root"
    bad.write_bytes(bytes(data))
    source = open_source(bad)
    shard = source.shards()[0]
    with pytest.raises(InputError, match="cannot read branch 'Muon_pt'") as info:
        list(source.read(shard, batch_size=150))
    assert info.value.column == "Muon_pt" and info.value.batch == "entries 0-600" and "\n" not in str(info.value)


def test_inspect_shows_branches_entries_and_what_a_mapping_misses(generated, root_file, tmp_path, monkeypatch):
    info = describe_file(str(root_file))
    assert info["trees"]["Events"]["entries"] == 600
    assert info["trees"]["Events"]["columns"]["Muon_pt"] == "float[]"
    fits = {m["mapping"]: m for m in info["mappings"]}
    assert fits["cms_nanoaod"]["fits"] and not fits["uproot_zmumu"]["fits"]
    text = render(info, branches="Muon_*")
    assert "mapping cms_nanoaod: fits" in text and "Muon_pt" in text and "Jet_pt" not in text
    # A file without Muon_eta: inspect lists the missing branch with the closest present names.
    names = {k: v for k, v in NANOAOD_NAMES["muons"][1].items() if k != "eta"}
    monkeypatch.setitem(NANOAOD_NAMES, "muons", ("Muon", names))
    partial = write_nanoaod(generated[:1], tmp_path / "partial.root")
    problems = {m["mapping"]: m["problems"] for m in describe_file(str(partial))["mappings"]}
    assert [p["branch"] for p in problems["cms_nanoaod"]] == ["Muon_eta"]
    assert "closest present: Muon_pt" in problems["cms_nanoaod"][0]["message"]
    assert "does not fit" in render(describe_file(str(partial)))


def test_open_file_cache_is_bounded_and_never_closes_a_file_in_use(tmp_path):
    closed = []

    class Fake:
        def __init__(self, path):
            self.path = path

        def close(self):
            closed.append(self.path)

    a, b, c = (tmp_path / n for n in "abc")
    for p in (a, b, c):
        p.write_bytes(b"x")
    cache = HandleCache(limit=1)
    with cache.open(str(a), Fake) as held:
        with cache.open(str(b), Fake):
            pass
        assert closed == [str(b)]  # over the limit: the idle file goes, the one in use stays
        with cache.open(str(a), Fake) as again:
            assert again is held  # reused, not reopened
    with cache.open(str(c), Fake):
        pass
    assert closed == [str(b), str(a)]  # least recently used first
    c.write_bytes(b"changed")
    with cache.open(str(c), Fake) as fresh:
        assert fresh.file.path == str(c) and fresh is not None
    assert closed.count(str(c)) == 1  # the stale handle of c was evicted, the fresh one kept
