"""Run by the engine's Python (rasa 3.6): our FastSQLTrackerStore against Rasa's own SQLTrackerStore.

Both stores share one database; conversations are written turn by turn through one store and read back
through the other, across a new session, a save with no read before it, and many senders; then the tracker
our store keeps between turns is checked against writes it did not make, unsaved changes and a new
session. Prints "ok" and exits 0 when every tracker read either way holds the same events; raises
otherwise.

Usage: python tests/engine/tracker_store_check.py DOMAIN_YML sqlite PATH
       python tests/engine/tracker_store_check.py DOMAIN_YML postgresql HOST PORT USER DB
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from engine_tracker_store import FastSQLTrackerStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered


def _events(tracker: Any) -> list[dict]:
    return [event.as_dict() for event in tracker.events]


def _turn(tracker: Any, text: str, slot: str, value: Any) -> None:
    now = time.time()
    tracker.update(UserUttered(text, {"name": "consultar_plan", "confidence": 0.99}, timestamp=now))
    tracker.update(ActionExecuted("action_answer", timestamp=now + 0.001))
    tracker.update(SlotSet(slot, value, timestamp=now + 0.002))
    tracker.update(BotUttered(f"respuesta a {text}", timestamp=now + 0.003))
    tracker.update(ActionExecuted("action_listen", timestamp=now + 0.004))


async def check(domain: Domain, kwargs: dict) -> None:
    fast = FastSQLTrackerStore(domain, **kwargs)
    stock = SQLTrackerStore(domain, **kwargs)
    slot = next(s.name for s in domain.slots if s.type_name == "text" or s.type_name == "any")
    senders = [f"check-{time.time_ns()}-{n}" for n in range(20)]
    for round_ in range(4):
        for index, sender in enumerate(senders):
            writer, reader = (fast, stock) if (index + round_) % 2 == 0 else (stock, fast)
            tracker = await writer.get_or_create_tracker(sender)
            _turn(tracker, f"mensaje {round_}", slot, f"valor {round_}")
            await writer.save(tracker)
            again = await reader.retrieve(sender)
            assert again is not None and _events(again) == _events(tracker), (sender, round_)
            assert again.get_slot(slot) == f"valor {round_}"
    # A new session: both stores read only its events from now on.
    sender = senders[0]
    tracker = await fast.retrieve(sender)
    assert tracker is not None
    later = time.time()
    tracker.update(ActionExecuted("action_session_start", timestamp=later))
    tracker.update(SessionStarted(timestamp=later + 0.001))
    tracker.update(ActionExecuted("action_listen", timestamp=later + 0.002))
    await fast.save(tracker)
    expected = await stock.retrieve(sender)
    assert expected is not None
    for store in (fast, stock):
        fresh = await store.retrieve(sender)
        assert fresh is not None and _events(fresh) == _events(expected)
        names = [e.type_name for e in fresh.events]
        assert "session_started" in names[:2] and len(names) <= 3, names
    # A save with no read before it (the store counts, as Rasa does) adds only the new events.
    tracker = await stock.retrieve(sender)
    assert tracker is not None
    _turn(tracker, "tras la sesión", slot, "nuevo")
    await fast.save(tracker)
    read = _events(await stock.retrieve(sender))
    assert read == _events(tracker), ([e["event"] for e in read], [e["event"] for e in _events(tracker)])
    # A save right after the read adds nothing twice.
    tracker = await fast.retrieve(sender)
    await fast.save(tracker)
    assert _events(await stock.retrieve(sender)) == _events(tracker)
    full = await stock.retrieve_full_tracker(sender)
    assert len(full.events) > len(tracker.events)
    await check_kept_trackers(fast, stock, slot)


async def check_kept_trackers(fast: Any, stock: Any, slot: str) -> None:
    """The tracker kept between turns: used only while the stored session is the one it holds."""
    sender = f"kept-{time.time_ns()}"
    tracker = await stock.get_or_create_tracker(sender)
    _turn(tracker, "primero", slot, "uno")
    await stock.save(tracker)
    tracker = await fast.retrieve(sender)  # read from the database, then kept once saved
    for n in range(3):
        _turn(tracker, f"turno {n}", slot, f"valor {n}")
        await fast.save(tracker)
        before = fast.kept_reads
        again = await fast.retrieve(sender)
        assert fast.kept_reads == before + 1, "an unchanged session is read from memory"
        assert _events(again) == _events(await stock.retrieve(sender)) == _events(tracker)
        tracker = again
    # Handed out once: a second read without a save in between goes to the database.
    before = fast.stored_reads
    second = await fast.retrieve(sender)
    assert fast.stored_reads == before + 1 and second is not tracker
    assert _events(second) == _events(tracker)
    # Another writer (Rasa's store, another worker) changes the session: the kept tracker is not used.
    await fast.save(second)
    other = await stock.retrieve(sender)
    _turn(other, "desde otro proceso", slot, "otro")
    await stock.save(other)
    before = fast.stored_reads
    read = await fast.retrieve(sender)
    assert fast.stored_reads == before + 1 and read.get_slot(slot) == "otro"
    assert _events(read) == _events(other)
    # A turn that failed after changing the tracker and before saving it: the change is not seen again.
    await fast.save(read)
    broken = await fast.retrieve(sender)
    _turn(broken, "a medias", slot, "sin guardar")
    before = fast.stored_reads
    fresh = await fast.retrieve(sender)
    assert fast.stored_reads == before + 1 and fresh.get_slot(slot) == "otro"
    assert _events(fresh) == _events(other)
    # A new session started within a turn: the next read holds the new session's events only. (After the
    # last saved event: `_turn` stamps its events up to 4 ms ahead, which a fast machine has not reached.)
    later = max(time.time(), max(event.timestamp for event in fresh.events)) + 0.01
    fresh.update(ActionExecuted("action_session_start", timestamp=later))
    fresh.update(SessionStarted(timestamp=later + 0.001))
    fresh.update(ActionExecuted("action_listen", timestamp=later + 0.002))
    await fast.save(fresh)
    after = await fast.retrieve(sender)
    assert _events(after) == _events(await stock.retrieve(sender))
    assert after.events[0].type_name == "session_started"


def main(argv: list[str]) -> int:
    domain = Domain.load(argv[1])
    if argv[2] == "sqlite":
        kwargs = {"dialect": "sqlite", "db": argv[3]}
    else:
        host, port, user, db = argv[3:7]
        kwargs = {"dialect": "postgresql", "host": host, "port": int(port), "username": user, "db": db}
    asyncio.run(check(domain, kwargs))
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
