"""Speed-up "model loading" (switch ENGINE_PATCH_MODEL_LOADING): how a trained DIET model is loaded.
Applied by engine_speedups (the loader) when `rasa.utils.tensorflow.models` is imported, on Rasa 3.6.21 only.

What it changes: `RasaModel.load`, when not fine-tuning, builds the model's weights with one eager forward
pass through the training loss of one example, then loads the trained weights from the model file as Rasa
does (and runs one inference, as Rasa does). Fine-tuning (which needs the optimizer's state) keeps Rasa's
way.

Why: to build the weights before loading them, Rasa fits the model for one step on one example, which
traces the whole training graph (gradients, optimizer). The loss of one example creates the same weights
without that trace.

What it bought: about 23 of the 29 s the engine took to answer its first message (about 9 s now).

Not a DIETClassifier subclass named in config.yml: Rasa's registry keys components by class name, and Rasa
recognises DIET by its exact class or name (the recipe validator's trainable extractors, `rasa test nlu`'s
entity evaluation, the `extractor` of each entity, the model files' names), so a subclass would train with
false warnings and evaluate differently.

Proved by tests/engine/model_load_check.py (test_model_load.py): the model loaded this way and the model
loaded Rasa's way predict the same intent, confidence and entities for every message of the held-out test
set.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any


def patch_rasa_model_load(module: ModuleType) -> None:
    """Patch `rasa.utils.tensorflow.models.RasaModel.load` (see the module's docstring)."""
    rasa_model = module.RasaModel
    original = rasa_model.load.__func__
    tf, generator = module.tf, module.RasaBatchDataGenerator
    learning_rate, run_eagerly = module.LEARNING_RATE, module.RUN_EAGERLY

    def load(
        cls: Any,
        model_file_name: str,
        model_data_example: Any,
        predict_data_example: Any = None,
        finetune_mode: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if finetune_mode:
            return original(
                cls, model_file_name, model_data_example, predict_data_example, True, *args, **kwargs
            )
        model = cls(*args, **kwargs)
        config = kwargs.get("config", {})
        model.compile(
            optimizer=tf.keras.optimizers.Adam(config.get(learning_rate, 0.001)),
            run_eagerly=config.get(run_eagerly),
        )
        batch, _ = generator(model_data_example, batch_size=1)[0]
        # The loss of one example, eagerly: every layer the training step uses builds its weights.
        model._training = True
        model.batch_loss(batch)
        model._training = False
        status = model.load_weights(model_file_name)
        if status is not None and hasattr(status, "expect_partial"):
            status.expect_partial()  # the optimizer's state is in the file but not needed to predict
        if predict_data_example:
            model.run_inference(predict_data_example)
        return model

    rasa_model.load = classmethod(load)
