"""Run by the engine's Python: the engine's remembered rule matching finds exactly the rules Rasa's does.

Evaluates the test stories (every turn of every story, forms included) with the trained model, whose
config.yml names `engine_policies.MemoRulePolicy`, and on every rule lookup compares its remembered answer
with RulePolicy's own computation; prints "ok N" with the number of lookups compared, once the memory has
answered some of them.

Usage: python tests/engine/rules_check.py MODEL.tar.gz STORIES_FOLDER OUT_FOLDER
"""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path
from typing import Any

from engine_policies import MemoRulePolicy
from rasa.core.agent import Agent
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.test import test as evaluate_stories

compared = 0
remembered = MemoRulePolicy._get_possible_keys
rasas = RulePolicy._get_possible_keys


def both(self: Any, lookup: dict, states: list) -> set:
    global compared
    ours, theirs = remembered(self, lookup, states), rasas(self, lookup, states)
    assert ours == theirs, (states, ours, theirs)
    compared += 1
    return ours


async def main(model: str, stories: str, out: str) -> int:
    Path(out).mkdir(parents=True, exist_ok=True)
    MemoRulePolicy._get_possible_keys = both  # type: ignore[method-assign]
    agent = Agent.load(model)
    for _ in range(2):  # the second pass is answered from memory
        result = await evaluate_stories(stories, agent, out_directory=out, disable_plotting=True)
        print(result.get("report", {}).get("micro avg", result.get("report")), file=sys.stderr)
    policies = [o for o in gc.get_objects() if isinstance(o, RulePolicy)]
    assert policies and all(isinstance(p, MemoRulePolicy) for p in policies), policies
    memos = [len(answers) for p in policies for (_, _, answers) in (p._rule_memo or {}).values()]
    assert 0 < sum(memos) < compared, (memos, compared)  # some lookups were answered from memory
    assert compared > 50, compared
    print(f"ok {compared} rule lookups compared; remembered {sum(memos)} turn sequences")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
