# The conversation engine: Rasa Open Source 3.6.21 on Python 3.10, with the trained model baked in.
# Build from the repository root:  docker build -f deploy/engine.Dockerfile -t asistente-engine .
FROM python:3.10-slim AS train
WORKDIR /app
COPY requirements-engine.txt ./
RUN pip install --no-cache-dir -r requirements-engine.txt
# The speed-ups' loader (.pth and engine_speedups.py), one module per speed-up, our policy, stores and NLU component.
COPY engine/engine_speedups.py engine/engine_speedups.pth engine/engine_patch_action_schema.py \
    engine/engine_patch_model_loading.py engine/engine_patch_prediction.py engine/engine_patch_graph_runner.py \
    engine/engine_patch_sparse_features.py engine/engine_patch_events.py engine/engine_patch_endpoints.py \
    engine/engine_policies.py engine/engine_tracker_store.py engine/engine_lock_store.py \
    engine/engine_entity_filter.py \
    /usr/local/lib/python3.10/site-packages/
COPY config.yml domain.yml credentials.yml ./
COPY data ./data
RUN rasa train --out models --fixed-model-name model

FROM python:3.10-slim
WORKDIR /app
COPY --from=train /usr/local/lib/python3.10/site-packages /usr/local/lib/python3.10/site-packages
COPY --from=train /usr/local/bin/rasa /usr/local/bin/rasa
COPY --from=train /app/models/model.tar.gz /app/models/model.tar.gz
COPY credentials.yml ./
# Endpoints (tracker store, lock store, action server) come from a mounted file: see the README.
RUN useradd --uid 1001 --create-home rasa && chown -R rasa /app
USER 1001
EXPOSE 5005
# Shell form so that ENGINE_TOKEN (from a Secret) is expanded at start-up.
CMD rasa run --model /app/models/model.tar.gz --enable-api --auth-token "$ENGINE_TOKEN" \
    --endpoints /app/config/endpoints.yml --credentials /app/credentials.yml --port 5005
