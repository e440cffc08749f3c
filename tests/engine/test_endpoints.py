"""The engine's calls to the action server (engine/engine_patch_endpoints.py) reuse one connection, with the
same answers and errors as Rasa's own: a check run by the engine's Python, with and without the patch."""

from __future__ import annotations

import pytest

from tests.engine.conftest import check, run_in_engine

pytestmark = pytest.mark.e2e


def test_calls_share_a_connection_and_answer_as_rasa_does() -> None:
    _, one_by_one, connections, requests = run_in_engine(check("endpoints_check.py")).split()
    # 20 calls and an error one after another on one connection, then 5 at once (on at most 5).
    assert int(one_by_one) == 1 and int(connections) <= 5 and int(requests) == 26


def test_without_the_patch_each_call_opens_its_own_connection() -> None:
    env = {"ENGINE_SPEEDUPS": "0"}
    _, one_by_one, connections, requests = run_in_engine(check("endpoints_check.py"), env=env).split()
    assert int(one_by_one) == 21 and int(connections) == int(requests) == 26
