"""Run by the engine's Python: parse messages with a trained model and print what the NLU predicted.

The end-to-end test runs it with and without the engine's speed-ups (ENGINE_SPEEDUPS: the fast model
loading and the direct call of DIET's prediction graph among them) and compares: the same intents,
confidences and entities either way.

Usage: python tests/engine/model_load_check.py MODEL.tar.gz NLU_YAML_FOLDER
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from rasa.core.agent import Agent
from rasa.shared.nlu.training_data.loading import load_data


async def predictions(model: str, folder: str) -> list[dict]:
    started = time.perf_counter()
    agent = Agent.load(model)
    loaded = time.perf_counter() - started
    examples = [m.get("text") for m in load_data(folder).intent_examples]
    found = []
    for text in examples:
        parsed = await agent.parse_message(text)
        found.append(
            {
                "text": text,
                "intent": parsed["intent"]["name"],
                "confidence": round(float(parsed["intent"]["confidence"]), 5),
                "entities": sorted((e["entity"], str(e["value"])) for e in parsed["entities"]),
            }
        )
    print(json.dumps({"load_seconds": round(loaded, 2)}), file=sys.stderr)
    import engine_speedups

    # How many prediction graphs were called directly (0 when the speed-ups are off).
    return [{"direct_graphs": len(engine_speedups._concrete)}, *found]


if __name__ == "__main__":
    result = asyncio.run(predictions(sys.argv[1], sys.argv[2]))
    Path(sys.argv[3]).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"ok {len(result)}")
