# One image for every process of the platform; the command picks the process
# (docs/deployment.md, "The image and docker compose"):
#   web          scripts/web                 (the default: uvicorn, HTTP and WebSocket, :8000)
#   worker       scripts/worker --loglevel INFO   (celery worker; its metrics directory made first)
#   beat         celery -A saas beat --scheduler scheduler.beat:ProjectScheduler --loglevel INFO
#   migrations   python manage.py migrate_schemas --noinput
#   embedder     python -m knowledge.embeddings.server --bind 0.0.0.0:8765
# No Docker daemon is needed to catch a broken build: tests/deploy/test_image_build.py runs
# the runtime stage's build commands (collectstatic, check --deploy) on the build context.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: compilers, and the virtualenv with the runtime dependencies ------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# For any dependency published without a wheel for this platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY pyproject.toml requirements.lock requirements-nodeps.txt ./
# The runtime dependencies only ([project] dependencies of pyproject.toml) at the versions
# requirements.lock pins: the lock also pins the dev tools (pytest, Playwright, mypy, ...),
# which stay out of the image.
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
      > requirements-runtime.txt \
 && pip install -r requirements-runtime.txt -c requirements.lock \
 && pip install --no-deps -r requirements-nodeps.txt

# --- runtime: the interpreter, the virtualenv and the application; no compiler -------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=saas.settings.production \
    HOME=/tmp PORT=8000
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The build context is filtered by .dockerignore: no tests, docs, .git, benchmarks, chart.
# Root owns the code: the process cannot rewrite it.
COPY . .
# Static files, with settings that need no secret and reach no service (saas.settings.build).
RUN DJANGO_SETTINGS_MODULE=saas.settings.build python manage.py collectstatic --noinput -v0
# The production settings pass Django's deployment checks. Throwaway values, generated here
# and set for this command only: nothing of them is kept in the image, and the processes
# refuse to start without real ones.
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    SECRET_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    BASE_DOMAIN=build.invalid DATABASE_URL=postgres://build@127.0.0.1:1/build REDIS_URL=redis://127.0.0.1:1/0 \
    STRIPE_SECRET_KEY=sk_build_placeholder STRIPE_WEBHOOK_SECRET=whsec_build_placeholder \
    python manage.py check --deploy --fail-level WARNING
# Bytecode compiled once here, since the non-root process cannot write it.
RUN python -m compileall -q /app

USER 10001:10001
EXPOSE 8000
# The web process's liveness. Other commands (worker, beat, ...) bring their own check
# (docker-compose.yml, the Helm chart's probes).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-m", "saas.http_probe"]
CMD ["scripts/web"]
