"""Tests of deterministic prescales (trigger.menu.prescale)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from trigger.menu.prescale import path_salt, prescale_mask, splitmix64

N_EVENTS = 200_000


def identities(n: int = N_EVENTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Realistic identities: one run, sequential event numbers, 1000 events per lumi block."""
    event = np.arange(1, n + 1, dtype=np.uint64)
    lumi = (event // 1000 + 1).astype(np.uint32)
    run = np.full(n, 355_100, dtype=np.uint32)
    return run, lumi, event


def within(kept: int, n: int, p: float) -> bool:
    """kept is within 5 standard deviations of a Binomial(n, p) mean."""
    return abs(kept - n * p) < 5 * np.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("prescale", [2, 10, 100])
def test_fraction_kept_is_one_in_n(prescale: int) -> None:
    mask = prescale_mask(*identities(), prescale=prescale, salt=path_salt("HLT_Test"))
    assert mask.dtype == bool and mask.shape == (N_EVENTS,)
    assert within(int(mask.sum()), N_EVENTS, 1 / prescale), mask.sum()


@pytest.mark.parametrize("prescale", [2, 10])
def test_structured_event_numbers_are_not_aliased(prescale: int) -> None:
    # Event numbers that are all multiples of N would defeat an `event % N` prescale.
    run, lumi, event = identities()
    mask = prescale_mask(run, lumi, event * np.uint64(prescale), prescale=prescale, salt=7)
    assert within(int(mask.sum()), N_EVENTS, 1 / prescale)


def test_one_keeps_all_and_zero_keeps_none() -> None:
    ids = identities(1000)
    assert prescale_mask(*ids, prescale=1, salt=3).all()
    assert not prescale_mask(*ids, prescale=0, salt=3).any()


def test_batch_and_slices_and_permutations_agree() -> None:
    run, lumi, event = identities(20_000)
    whole = prescale_mask(run, lumi, event, prescale=10, salt=11)
    for start, stop in [(0, 1), (1234, 5678), (19_999, 20_000)]:
        part = prescale_mask(run[start:stop], lumi[start:stop], event[start:stop], prescale=10, salt=11)
        np.testing.assert_array_equal(part, whole[start:stop])
    order = np.random.default_rng(0).permutation(event.size)
    shuffled = prescale_mask(run[order], lumi[order], event[order], prescale=10, salt=11)
    np.testing.assert_array_equal(shuffled, whole[order])


def test_input_dtypes_do_not_matter() -> None:
    run, lumi, event = identities(5000)
    a = prescale_mask(run, lumi, event, prescale=7, salt=5)
    b = prescale_mask(run.astype(np.int64), lumi.astype(np.int64), event.astype(np.int64), prescale=7, salt=5)
    np.testing.assert_array_equal(a, b)


def test_paths_with_different_salts_are_independent() -> None:
    ids = identities()
    a = prescale_mask(*ids, prescale=10, salt=path_salt("HLT_A"))
    b = prescale_mask(*ids, prescale=10, salt=path_salt("HLT_B"))
    assert not np.array_equal(a, b)
    assert within(int((a & b).sum()), N_EVENTS, 1 / 100), (a & b).sum()


def test_lumi_and_run_change_the_decision() -> None:
    run, lumi, event = identities(50_000)
    base = prescale_mask(run, lumi, event, prescale=10, salt=1)
    other_lumi = prescale_mask(run, lumi + np.uint32(1), event, prescale=10, salt=1)
    other_run = prescale_mask(run + np.uint32(1), lumi, event, prescale=10, salt=1)
    # Independent decisions agree on ~82% of events (0.9^2 + 0.1^2), identical ones on 100%.
    assert np.mean(base == other_lumi) < 0.9
    assert np.mean(base == other_run) < 0.9


def test_decisions_are_pinned() -> None:
    # Changing the hash changes which events every prescaled path keeps: do it on purpose only.
    assert int(splitmix64(np.zeros(1, dtype=np.uint64))[0]) == 0xE220A8397B1DCDAF  # reference vector
    assert path_salt("HLT_ZeroBias") == 267255487  # CRC-32: the same in every process, unlike hash()
    event = np.arange(1, 201, dtype=np.uint64)
    mask = prescale_mask(np.full(200, 355_100, np.uint32), np.full(200, 7, np.uint32), event,
                         prescale=10, salt=path_salt("HLT_ZeroBias"))
    assert event[mask].tolist() == [3, 7, 29, 43, 48, 58, 66, 91, 102, 108, 119, 130, 165, 169, 182]


def test_no_overflow_warnings() -> None:
    big = np.full(100, np.iinfo(np.uint64).max, dtype=np.uint64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prescale_mask(big, big, big, prescale=3, salt=2**64 - 1)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_invalid_prescale_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="prescale must be an int >= 0"):
        prescale_mask(*identities(10), prescale=bad, salt=0)  # type: ignore[arg-type]


def test_mismatched_lengths_are_refused() -> None:
    run, lumi, event = identities(10)
    with pytest.raises(ValueError, match="same shape"):
        prescale_mask(run, lumi[:5], event, prescale=2, salt=0)
