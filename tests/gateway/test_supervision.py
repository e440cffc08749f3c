"""The supervisor guard: only a signed-in user whose token and stored profile are both `supervisor`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp.plugin import AiohttpClient

from bot.gateway import tokens
from bot.gateway.errors import api_errors
from bot.gateway.keys import SETTINGS, USERS
from bot.gateway.supervision import NOT_SUPERVISOR, require_supervisor
from bot.gateway.users import Users
from bot.store.db import make_engine, make_sessionmaker
from tests.gateway.conftest import token_settings

Client = TestClient[web.Request, web.Application]
ELENA = (8, 4, "supervisor", "Elena Supervisión")  # the demo supervisor
CARLA = (7, 4, "agent", "Carla Soporte")  # the demo agent
ANA = (1, 1, "admin", "Ana Torres")  # a customer's admin


async def whoami(request: web.Request) -> web.Response:
    user = await require_supervisor(request)
    return web.json_response({"user_id": user.user_id, "profile": user.profile, "name": user.name})


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, database_url: str) -> AsyncIterator[Client]:
    store = make_engine(database_url)
    app = web.Application(middlewares=[api_errors])
    app[SETTINGS] = token_settings()
    app[USERS] = Users(make_sessionmaker(store))
    app.router.add_get("/whoami", whoami)
    yield await aiohttp_client(app)
    store.dispose()


def bearer(user_id: int, account_id: int, profile: str, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint(user_id, account_id, profile, name, token_settings(), 5)}"}


async def test_the_demo_supervisor_is_let_in(client: Client) -> None:
    response = await client.get("/whoami", headers=bearer(*ELENA))
    assert response.status == 200
    assert await response.json() == {"user_id": 8, "profile": "supervisor", "name": "Elena Supervisión"}


@pytest.mark.parametrize("who", [CARLA, ANA], ids=["agent", "admin"])
async def test_other_profiles_are_refused_in_spanish(client: Client, who: tuple[int, int, str, str]) -> None:
    response = await client.get("/whoami", headers=bearer(*who))
    assert response.status == 403
    assert await response.json() == {"error": "not_a_supervisor", "message": NOT_SUPERVISOR}


async def test_a_token_claiming_supervisor_for_an_agent_is_refused(client: Client) -> None:
    """The store decides: an agent's id in a token that says supervisor does not get in."""
    response = await client.get("/whoami", headers=bearer(7, 4, "supervisor", "Carla Soporte"))
    assert response.status == 403


async def test_no_token_or_a_bad_one_is_401(client: Client) -> None:
    assert (await client.get("/whoami")).status == 401
    response = await client.get("/whoami", headers={"Authorization": "Bearer not-a-token"})
    assert response.status == 401
    assert (await response.json())["error"] == "token_invalid"
