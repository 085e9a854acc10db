"""docker-compose.yml: valid against the Compose Specification's JSON schema (kept in
deploy/schemas/), and it starts the platform's processes from the one image, in order, on
real PostgreSQL + pgvector, Redis and MinIO, with commands that exist. No Docker needed."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands
from kombu import Queue

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "embedder", "web", "worker", "beat")
LONG_RUNNING = ("postgres", "redis", "minio", "embedder", "web", "worker", "beat")
_INTERPOLATION = re.compile(r"\$\$|\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((ROOT / "deploy" / "schemas" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation of ``${VAR:-default}``, ``${VAR}``, ``$VAR`` and ``$$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(3)
        return env.get(name) or (match.group(2) or "")

    return _INTERPOLATION.sub(replace, value)


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else command.split()


def test_valid_against_the_compose_specification(compose, validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_refuses_what_compose_would_refuse(compose, validator):
    wrong_condition = copy.deepcopy(compose)
    wrong_condition["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_done"
    assert not validator.is_valid(wrong_condition)
    misspelled = copy.deepcopy(compose)
    misspelled["services"]["worker"]["comand"] = misspelled["services"]["worker"].pop("command")
    assert not validator.is_valid(misspelled)


def test_the_services_on_real_backing_services(compose):
    services = compose["services"]
    assert {"postgres", "redis", "minio", "minio-bucket", *APP_SERVICES} <= set(services)
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["minio"]["image"].startswith("minio/minio")
    bucket = " ".join(services["minio-bucket"]["command"])
    assert "mc mb --ignore-existing" in bucket


def test_one_image_for_every_process_of_the_platform(compose):
    services = compose["services"]
    images = {(services[s]["image"], services[s]["build"]) for s in APP_SERVICES}
    assert len(images) == 1
    for name in APP_SERVICES:
        service = services[name]
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "saas.settings.production"
        assert {"path": ".env", "required": False} in service["env_file"], name
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert service["environment"]["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
        # .env may set HOST/PORT for `make run`: the container's must not follow it.
        assert service["environment"]["HOST"] == "0.0.0.0"  # noqa: S104 - inside the container
        assert service["init"] is True, name
    web = services["web"]
    (published,) = web["ports"]
    assert published.rsplit(":", 1)[1] == web["environment"]["PORT"]
    assert interpolate(published, {}).startswith("127.0.0.1:"), "placeholder secrets: loopback only"


def test_health_checks_and_start_order(compose):
    services = compose["services"]
    for name in LONG_RUNNING:
        check = services[name]["healthcheck"]
        assert check.get("test") and not check.get("disable"), name
    assert services["migrate"]["restart"] == "no"
    assert services["minio-bucket"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "minio-bucket": {"condition": "service_completed_successfully"},
    }
    assert services["minio-bucket"]["depends_on"] == {"minio": {"condition": "service_healthy"}}
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
    assert services["web"]["depends_on"]["embedder"] == {"condition": "service_healthy"}


def test_beat_runs_once_with_the_database_scheduler(compose):
    services = compose["services"]
    beat = _command(services["beat"])
    assert beat[:4] == ["celery", "-A", "saas", "beat"]
    assert beat[beat.index("--scheduler") + 1] == settings.CELERY_BEAT_SCHEDULER
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    # No other process embeds a second beat (a worker's -B / --beat).
    for name, service in services.items():
        if name != "beat" and "command" in service:
            assert not {"-B", "--beat", "beat"} & set(_command(service)), name


def _default_queue() -> str:
    return getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", None) or "celery"  # Celery's own default


def _queues(command: list[str]) -> set[str]:
    """What a worker consumes: its -Q list, else every declared queue, else the default."""
    for flag in ("-Q", "--queues"):
        if flag in command:
            return set(command[command.index(flag) + 1].split(","))
    declared = getattr(settings, "CELERY_TASK_QUEUES", None) or []
    return {queue.name for queue in declared} or {_default_queue()}


def _unconsumed(compose: dict[str, Any]) -> set[str]:
    """The queues the project sends tasks to that no compose worker consumes."""
    routed = {_default_queue()}
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        routed.add(route["queue"] if isinstance(route, dict) else route)
    consumed: set[str] = set()
    for service in compose["services"].values():
        command = _command(service) if "command" in service else []
        if command[:1] == ["scripts/worker"]:  # celery -A saas worker, its metrics directory made first
            command = ["celery", "-A", "saas", "worker", *command[1:]]
        if command[:4] == ["celery", "-A", "saas", "worker"]:
            consumed |= _queues(command)
            assert service["healthcheck"]["test"][1:] == ["python", "-m", "scheduler.probe"]
    return routed - consumed


def test_the_workers_consume_every_queue_the_project_routes_to(compose):
    assert _unconsumed(compose) == set()


def test_a_queue_split_without_its_worker_is_caught(compose, settings):
    """Queues declared and routed (the split the Helm chart runs as one worker per group)."""
    settings.CELERY_TASK_DEFAULT_QUEUE = "default"
    settings.CELERY_TASK_QUEUES = [Queue("default"), Queue("ingest")]
    settings.CELERY_TASK_ROUTES = {"knowledge.tasks.source_ingest_task": {"queue": "ingest"}}
    assert _unconsumed(compose) == set()  # a worker without -Q takes every declared queue
    default_only = copy.deepcopy(compose)
    default_only["services"]["worker"]["command"] += ["-Q", "default"]
    assert _unconsumed(default_only) == {"ingest"}


def _runs(argv: list[str]) -> None:
    """The program and what it names exist in this checkout (so in the image)."""
    program = argv[0]
    if program == "python" and argv[1] == "-m":
        assert importlib.util.find_spec(argv[2]), argv
    elif program == "python" and argv[1] == "manage.py":
        assert argv[2] in get_commands(), argv
    elif program == "celery":
        assert argv[1:3] == ["-A", "saas"] and importlib.util.find_spec("saas.celery")
    else:
        path = ROOT / program
        assert path.is_file() and path.stat().st_mode & 0o111, argv


def test_every_command_exists(compose):
    for name in APP_SERVICES:
        service = compose["services"][name]
        command = _command(service)
        if command[:2] == ["sh", "-c"]:
            for part in command[2].split("&&"):
                _runs(part.split())
        else:
            _runs(command)
        test = service.get("healthcheck", {}).get("test") or []
        if test[:1] == ["CMD"]:
            _runs(test[1:])


def test_the_defaults_satisfy_the_production_settings(compose):
    """With no .env, the environment compose gives the processes loads production settings."""
    environment = compose["services"]["web"]["environment"]
    env = {key: interpolate(str(value), {}) for key, value in environment.items()}
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert env["DATABASE_URL"] == "postgres://saas:saas@postgres:5432/saas"


def test_interpolation_reads_the_environment_first():
    assert interpolate("${A:-x}-$${B}-$C", {"A": "a", "C": "c"}) == "a-${B}-c"
    assert interpolate("${A:-x}", {}) == "x"
