"""Credit-based flow control of a source (pure asyncio, no Ray)."""

from __future__ import annotations

import asyncio

from trigger.runtime.ray.credits import CreditPool


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_a_source_never_exceeds_its_leased_credits_and_waits_without() -> None:
    async def scenario() -> tuple[list[int], bool]:
        pool = CreditPool()
        await pool.set_leases({0: ("h0", 2), 1: ("h1", 1)})
        taken = [await pool.acquire() for _ in range(3)]
        blocked = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.01)
        was_blocked = not blocked.done()
        await pool.release(taken[0])
        await asyncio.wait_for(blocked, 1.0)
        return sorted(taken), was_blocked

    taken, was_blocked = run(scenario())
    assert taken == [0, 0, 1]  # exactly the leased credits: 2 on filter 0, 1 on filter 1
    assert was_blocked  # a 4th batch waits for a credit (deadtime)


def test_live_spreads_over_filters_with_most_free_credit() -> None:
    async def scenario() -> list[int]:
        pool = CreditPool()
        await pool.set_leases({0: ("a", 2), 1: ("b", 2)})
        return [await pool.acquire() for _ in range(2)]

    assert sorted(run(scenario())) == [0, 1]


def test_backfill_uses_only_idle_filters_and_yields_to_waiting_live() -> None:
    async def scenario() -> tuple[int, bool, bool, int]:
        pool = CreditPool()
        await pool.set_leases({0: ("a", 2), 1: ("b", 2)})
        await pool.acquire(live=True)
        backfill = await pool.acquire(live=False)  # only the idle filter
        blocked_bf = asyncio.ensure_future(pool.acquire(live=False))
        await asyncio.sleep(0.01)
        bf_blocked = not blocked_bf.done()  # both filters busy: backfill waits even with free credits
        await pool.set_flags(backfill_paused=True)
        await pool.release(backfill)
        await asyncio.sleep(0.01)
        paused_blocked = not blocked_bf.done()  # paused by the driver (live latency over budget)
        await pool.set_flags(backfill_paused=False, live_finished=True)
        got = await asyncio.wait_for(blocked_bf, 1.0)  # live input done: backfill takes any free credit
        return backfill, bf_blocked, paused_blocked, got

    backfill, bf_blocked, paused_blocked, got = run(scenario())
    assert backfill == 1
    assert bf_blocked and paused_blocked
    assert got in (0, 1)


def test_new_leases_and_dead_filters_take_effect_for_waiters() -> None:
    async def scenario() -> tuple[int, dict[int, int]]:
        pool = CreditPool()
        await pool.set_leases({0: ("a", 1)})
        await pool.acquire()
        waiter = asyncio.ensure_future(pool.acquire())
        await pool.mark_dead(0)
        await pool.set_leases({0: ("a", 1), 1: ("b", 1)})  # the driver still lists 0: ignored, dead
        got = await asyncio.wait_for(waiter, 1.0)
        return got, pool.max_in_flight_seen

    got, seen = run(scenario())
    assert got == 1
    assert seen == {0: 1, 1: 1}

