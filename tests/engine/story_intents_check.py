"""Run by the engine's Python: the trained model's NLU reads every user turn of the test stories as the
intent the story gives it (`rasa test core` takes the story's intent as given and checks only the actions).

Usage: story_intents_check.py MODEL STORIES...  Prints each mismatch, then "ok N M" (turns, mismatches).
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import yaml
from rasa.core.agent import Agent

ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def turns(paths: list[str]) -> list[tuple[str, str, str]]:
    """(story, text, intent) of every user turn."""
    found = []
    for path in paths:
        for story in yaml.safe_load(Path(path).read_text(encoding="utf-8"))["stories"]:
            for step in story["steps"]:
                if "user" in step and "intent" in step:
                    text = ANNOTATION.sub(r"\1", str(step["user"])).strip()
                    found.append((story["story"], text, step["intent"]))
    return found


async def main(model: str, paths: list[str]) -> int:
    agent = Agent.load(model)
    wrong = 0
    checked = turns(paths)
    for story, text, intent in checked:
        parsed = await agent.parse_message(text)
        ranking = [r["name"] for r in parsed.get("intent_ranking") or [] if r["name"] != "nlu_fallback"]
        predicted = ranking[0] if ranking else parsed["intent"]["name"]
        if predicted != intent:
            wrong += 1
            print(f"MISMATCH [{story}] {text!r}: story says {intent}, the NLU reads {predicted}")
    print(f"ok {len(checked)} {wrong}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2:])))
