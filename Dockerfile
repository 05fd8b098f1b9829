# One image for all six services, the orchestrator (SAGA_MODE=orchestrated) and sagactl; each container runs a different command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when pyproject.toml or the lock change.
# requirements.lock pins every version (the same pins CI and `make install` use).
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c requirements.lock -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY README.md ./
COPY shared ./shared
COPY order_service ./order_service
COPY inventory_service ./inventory_service
COPY payment_service ./payment_service
COPY shipping_service ./shipping_service
COPY notification_service ./notification_service
COPY fraud_service ./fraud_service
COPY orchestrator_service ./orchestrator_service
COPY participants ./participants
COPY sagactl ./sagactl
COPY saga_monitor ./saga_monitor
COPY localkafka ./localkafka
COPY localpostgres ./localpostgres
RUN pip install --no-deps . \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin saga \
    && mkdir -p /data && chown saga:saga /data

USER saga
ENV SAGA_HTTP_HOST=0.0.0.0 \
    SAGA_HTTP_PORT=8000 \
    KAFKA_BOOTSTRAP_SERVERS=kafka:9092
VOLUME ["/data"]
EXPOSE 8000
# A small probe without curl: exit 0 only when /health answers 200.
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=5 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('SAGA_HTTP_PORT', '8000')}/health\", timeout=2)"]
CMD ["order-service"]
