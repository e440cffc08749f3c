"""Run by the engine's Python: parse messages with a trained model and print what the NLU predicted.

The end-to-end test runs it with and without the engine's speed-ups (ENGINE_SPEEDUPS: the fast model
loading of engine_patch_model_loading and the direct call of DIET's prediction graph of
engine_patch_prediction among them) and compares: the same intents, confidences and entities either way.
It also checks engine_patch_graph_runner: the graph runner's remembered schemas equal the ones Rasa
computes, for the targets the runs used, every node alone and none.

Usage: python tests/engine/model_load_check.py MODEL.tar.gz NLU_YAML_FOLDER OUT_JSON
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
    import engine_patch_prediction
    from rasa.utils.tensorflow.models import RasaModel

    return [
        {
            # How many prediction graphs were called directly (0 when the speed-ups are off).
            "direct_graphs": len(engine_patch_prediction._concrete),
            "fast_load": RasaModel.load.__func__.__module__ == "engine_patch_model_loading",
            "graph_runner": remembered_schemas(agent),
        },
        *found,
    ]


def remembered_schemas(agent: Agent) -> bool:
    """Whether the agent's graph runner remembers its minimal schemas; asserts that every one it gives
    (computed, then remembered) equals the schema Rasa computes."""
    from rasa.engine.graph import GraphSchema

    assert agent.processor is not None
    schema = agent.processor.graph_runner._graph_schema  # type: ignore[attr-defined]
    metadata = agent.processor.model_metadata
    targets = [None, [metadata.nlu_target], [metadata.core_target], *([name] for name in schema.nodes)]
    for _ in range(2):  # the second time from memory
        for target in targets:
            assert schema.minimal_graph_schema(target) == GraphSchema.minimal_graph_schema(schema, target)
    return "minimal_graph_schema" in vars(schema)


if __name__ == "__main__":
    result = asyncio.run(predictions(sys.argv[1], sys.argv[2]))
    Path(sys.argv[3]).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"ok {len(result)}")
