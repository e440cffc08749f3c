# Our code: the gateway (public) and the action server (cluster-internal), one image, two commands.
# Build from the repository root:  docker build -f deploy/app.Dockerfile -t asistente-app .
#   gateway:        python -m bot.gateway
#   action server:  python -m rasa_sdk --actions actions -p 5055
#   migrations:     bot create   (run once per release, e.g. as a Kubernetes Job or init container)
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore::UserWarning
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY actions ./actions
RUN pip install --no-cache-dir . && useradd --uid 1001 --create-home app
USER 1001
# 9800: the operator metrics (set METRICS_HOST=0.0.0.0 for Prometheus to reach them; never public).
EXPOSE 8000 5055 9800
CMD ["python", "-m", "bot.gateway"]
