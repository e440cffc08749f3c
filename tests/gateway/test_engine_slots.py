"""The engine slots admit the oldest waiting message first, never more than their size at once, and a
waiter cancelled while it waits (or just as it is handed a slot) does not leak the slot."""

from __future__ import annotations

import asyncio

from bot.gateway.pipeline.slots import OldestFirst


async def test_a_freed_slot_goes_to_the_oldest_waiting_message_not_the_first_to_ask() -> None:
    slots = OldestFirst(2)
    admitted: list[int] = []
    release = asyncio.Event()
    at_once = 0
    peak = 0

    async def answer(message_id: int) -> None:
        nonlocal at_once, peak
        async with slots.hold(message_id):
            admitted.append(message_id)
            at_once += 1
            peak = max(peak, at_once)
            await release.wait()
            at_once -= 1

    first = [asyncio.create_task(answer(i)) for i in (100, 101)]  # the slots are taken
    await asyncio.sleep(0)
    # New messages ask first, then the backlog kept during an outage (older ids) asks.
    later = [asyncio.create_task(answer(i)) for i in (205, 204, 3, 7, 1)]
    await asyncio.sleep(0)
    assert slots.waiting == 5
    release.set()
    await asyncio.gather(*first, *later)
    assert admitted == [100, 101, 1, 3, 7, 204, 205]
    assert peak == 2


async def test_cancelled_waiters_do_not_leak_slots() -> None:
    slots = OldestFirst(1)
    gate = asyncio.Event()

    async def hold(message_id: int) -> int:
        async with slots.hold(message_id):
            await gate.wait()
        return message_id

    holder = asyncio.create_task(hold(1))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(hold(i)) for i in (2, 3)]
    await asyncio.sleep(0)
    waiting[0].cancel()  # cancelled while it waits
    gate.set()
    await holder  # its slot goes to 3, skipping the cancelled 2
    assert await waiting[1] == 3
    assert waiting[0].cancelled()
    # Handed the slot and cancelled before it ran: the slot passes on rather than being lost.
    gate.clear()
    blocker = asyncio.create_task(hold(10))
    await asyncio.sleep(0)
    unlucky = asyncio.create_task(hold(11))
    after = asyncio.create_task(hold(12))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.sleep(0)  # 10 leaves: the slot is handed to 11 ...
    unlucky.cancel()  # ... which is cancelled before it runs
    assert await blocker == 10
    assert await after == 12
    async with slots.hold(99):  # and the slot is free again afterwards
        pass
