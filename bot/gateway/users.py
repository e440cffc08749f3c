"""The users the gateway looks up: agents signing in to the console, demo users in development mode."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import in_store
from bot.store.models import User


class Users:
    """Read-only user lookups, run in a worker thread so the event loop never blocks on the database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    async def by_id(self, user_id: int) -> User | None:
        """A user by id."""

        def run() -> User | None:
            with self._sessions() as session:
                return session.get(User, user_id)

        return await in_store(self._sessions, run)

    async def by_email(self, email: str) -> User | None:
        """A user by email (development sign-in and `bot token`)."""

        def run() -> User | None:
            with self._sessions() as session:
                return session.scalars(select(User).where(User.email == email)).one_or_none()

        return await in_store(self._sessions, run)

    async def of_accounts(self, account_ids: tuple[int, ...]) -> list[User]:
        """Users of the given accounts (the development page's list)."""

        def run() -> list[User]:
            with self._sessions() as session:
                return list(
                    session.scalars(select(User).where(User.account_id.in_(account_ids)).order_by(User.id))
                )

        return await in_store(self._sessions, run)
