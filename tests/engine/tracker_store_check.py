"""Run by the engine's Python (rasa 3.6): our FastSQLTrackerStore against Rasa's own SQLTrackerStore.

Both stores share one database; conversations are written turn by turn through one store and read back
through the other, across a new session, a save with no read before it, and many senders. Prints "ok" and
exits 0 when every tracker read either way holds the same events; raises otherwise.

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
