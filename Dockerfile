# Image for the web processes, the Celery worker and the embedding server
# (docker-compose.yml, the Helm chart).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.lock requirements-nodeps.txt pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.lock \
 && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt

COPY . .
RUN DJANGO_SETTINGS_MODULE=saas.settings.production DJANGO_SECRET_KEY=build-only BASE_DOMAIN=build.invalid \
    DATABASE_URL=postgres://build@127.0.0.1:1/build python manage.py collectstatic --noinput -v0

RUN useradd --system --uid 10001 app && chown -R app /app
USER app
EXPOSE 8000
# uvicorn with one process per core (WEB_CONCURRENCY, default: the container's CPU limit;
# scripts/web says how it is computed). The embedding server runs from the same image:
#   python -m knowledge.embeddings.server --bind 0.0.0.0:8765
CMD ["scripts/web"]
