"""Run by the engine's Python: the SQLite lock store under two worker processes at once.

Each process takes Rasa's conversation lock (`async with store.lock(...)`) many times on a few shared
conversations and, while holding it, appends to a shared file what it does; the lock must keep every
holder alone (no interleaving), hand out each ticket once, and leave no lock behind. Prints "ok N".

Usage: python tests/engine/lock_store_check.py DB_PATH LOG_PATH
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from pathlib import Path

from engine_lock_store import SQLiteLockStore

ROUNDS = 60
CONVERSATIONS = ["c1", "c2", "c3"]


async def _work(db: str, log: str, name: str) -> None:
    store = SQLiteLockStore(db=db)
    for round_ in range(ROUNDS):
        conversation = CONVERSATIONS[round_ % len(CONVERSATIONS)]
        async with store.lock(conversation, lock_lifetime=30, wait_time_in_seconds=0.001):
            with open(log, "a") as out:
                out.write(f"{conversation} {name} start\n")
            await asyncio.sleep(0.002)
            with open(log, "a") as out:
                out.write(f"{conversation} {name} end\n")


def _worker(db: str, log: str, name: str) -> None:
    asyncio.run(_work(db, log, name))


def main(db: str, log: str) -> int:
    workers = [multiprocessing.Process(target=_worker, args=(db, log, f"w{i}")) for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0, worker.exitcode
    lines = Path(log).read_text().splitlines()
    assert len(lines) == 2 * ROUNDS * len(workers), len(lines)
    for conversation in CONVERSATIONS:
        mine = [line.split()[1:] for line in lines if line.startswith(conversation + " ")]
        # Holders of one conversation's lock never overlap: start/end pairs follow each other.
        for start, end in zip(mine[::2], mine[1::2], strict=True):
            assert start[1] == "start" and end == [start[0], "end"], (conversation, start, end)
    store = SQLiteLockStore(db=db)
    assert all(store.get_lock(c) is None for c in CONVERSATIONS)  # nothing left behind
    tickets = {store.issue_ticket("fresh") for _ in range(50)}
    assert tickets == set(range(50)), sorted(tickets)
    print(f"ok {len(lines) // 2}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
