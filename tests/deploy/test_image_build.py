"""The Dockerfile builds and yields a slim, non-root image, proven without a Docker daemon:
its runtime stage's build commands (collectstatic, ``check --deploy``) run here on a copy of
the build context as ``.dockerignore`` filters it, with nothing but the Dockerfile's own
environment (no secret, no database, no Redis)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from django.conf import settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.build_context import ROOT, Stage, context_files, copy_context, stages

VENV_BIN = Path(sys.executable).parent
IMAGE_VENV_BIN = "/opt/venv/bin"
BUILD_TOOLS = {"build-essential", "gcc", "g++", "make", "cc", "clang", "libpq-dev", "python3-dev", "git"}
TEST_TOOLS = {
    "pytest", "pytest-django", "playwright", "mypy", "ruff", "moto", "schemathesis", "hypothesis",
    "factory-boy", "pre-commit", "deptry", "import-linter", "reportlab", "axe-playwright-python",
}  # fmt: skip


@pytest.fixture(scope="module")
def runtime() -> Stage:
    return stages()[-1]


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    return copy_context(tmp_path_factory.mktemp("context") / "app")


def _build_env(stage: Stage) -> dict[str, str]:
    """The stage's ENV with the image's virtualenv mapped onto this one's."""
    env = stage.env({"PATH": "/usr/local/bin:/usr/bin:/bin"})
    env["PATH"] = env["PATH"].replace(IMAGE_VENV_BIN, str(VENV_BIN))
    return {**env, "LANG": "C.UTF-8"}


def test_the_build_commands_run_on_the_context_with_no_secret_and_no_service(runtime, context):
    # Every build step of the stage but the user's creation (root's business), in the copy
    # of the context that stands for WORKDIR /app.
    assert runtime.all("WORKDIR")[-1].arguments == "/app"
    commands = [
        run.arguments.replace(" /app", f" {context}")
        for run in runtime.all("RUN")
        if not run.arguments.startswith(("groupadd", "useradd"))
    ]
    assert len(commands) == len(runtime.all("RUN")) - 1
    assert any("collectstatic" in c for c in commands), "the image must collect its static files"
    assert any("check --deploy" in c for c in commands), "the image must pass Django's deploy checks"
    env = _build_env(runtime)
    assert not {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "SECRET_ENCRYPTION_KEYS"} & set(env)
    for command in commands:
        done = subprocess.run(
            ["/bin/sh", "-c", command], cwd=context, env=env, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, f"RUN {command}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"

    collected = context / ".data" / "staticfiles"
    sources = [p.relative_to(context / "static") for p in (context / "static").rglob("*") if p.is_file()]
    assert sources
    missing = [str(p) for p in sources if not (collected / p).is_file()]
    assert missing == []
    assert (collected / "admin" / "css" / "base.css").is_file()  # the apps' files too
    assert list(collected.rglob("*.css.gz")), "whitenoise's compressed copies"
    compiled = context / "saas" / "settings" / "__pycache__"
    assert list(compiled.glob("production.*.pyc")), "the bytecode compiled at build time"


def test_the_build_fails_when_the_production_settings_fail_their_deploy_checks(runtime, context, tmp_path):
    check = next(run.arguments for run in runtime.all("RUN") if "check --deploy" in run.arguments)
    broken = tmp_path / "saas_broken_settings.py"
    broken.write_text("from saas.settings.production import *  # noqa\nSESSION_COOKIE_SECURE = False\n")
    env = {**_build_env(runtime), "PYTHONPATH": str(tmp_path)}
    command = check.replace(
        "python manage.py", "DJANGO_SETTINGS_MODULE=saas_broken_settings python manage.py"
    )
    done = subprocess.run(
        ["/bin/sh", "-c", command], cwd=context, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode != 0
    assert "security.W012" in done.stderr + done.stdout


def test_build_settings_collect_what_production_serves(runtime, context):
    """The same apps, finders, storage and folders: the files collected are production's."""
    names = ["INSTALLED_APPS", "STATIC_URL", "STATIC_ROOT", "STATICFILES_DIRS", "STATICFILES_FINDERS"]
    script = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: [str(v) for v in getattr(settings, n)] if isinstance(getattr(settings, n), "
        f"(list, tuple)) else str(getattr(settings, n)) for n in {names!r}}} | "
        "{'storage': settings.STORAGES['staticfiles'], 'debug': settings.DEBUG}))"
    )
    production_values = {
        "DJANGO_SECRET_KEY": "p" * 60,
        "SECRET_ENCRYPTION_KEYS": "kZ2m2QmSWcJw9u1kqYJ0b3k8m3x1G0n9b2Y7c6d5e4Q=",
        "BASE_DOMAIN": "chat.example.com",
        "DATABASE_URL": "postgres://x@127.0.0.1:1/x",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "BILLING_DEMO": "true",
    }
    seen = {}
    for module, extra in (("saas.settings.build", {}), ("saas.settings.production", production_values)):
        env = {**_build_env(runtime), **extra, "DJANGO_SETTINGS_MODULE": module}
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=context, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        seen[module] = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["saas.settings.build"] == seen["saas.settings.production"]
    assert seen["saas.settings.build"]["debug"] is False


def test_production_settings_still_refuse_to_start_without_their_secrets(runtime, context):
    env = {**_build_env(runtime), "DATABASE_URL": "postgres://x@127.0.0.1:1/x", "REDIS_URL": "redis://x:1/0"}
    command = [sys.executable, "manage.py", "check"]
    done = subprocess.run(command, cwd=context, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY" in done.stderr


def test_multi_stage_with_the_build_tools_in_the_builder_only(runtime):
    builder, *_ = stages()
    assert len(stages()) >= 2
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", runtime.base), runtime.base
    assert builder.base == runtime.base  # the virtualenv is copied: same interpreter, same paths
    builder_installs = " ".join(r.arguments for r in builder.all("RUN"))
    assert "build-essential" in builder_installs
    for run in runtime.all("RUN"):
        words = set(re.split(r"[\s;&|]+", run.arguments))
        assert not ({"apt-get", "apt", "apk"} & words and BUILD_TOOLS & words), run.arguments
    copies_from = [c.arguments for c in runtime.all("COPY") if c.arguments.startswith("--from")]
    assert copies_from == [f"--from={builder.name} /opt/venv /opt/venv"]


def test_runs_as_a_numeric_non_root_user_with_a_health_check(runtime):
    users = runtime.all("USER")
    assert users, "the image must not run as root"
    user = users[-1]
    uid, _, gid = user.arguments.partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric, so Kubernetes' runAsNonRoot can verify it"
    assert not gid or (gid.isdigit() and int(gid) != 0)
    assert all(run.line < user.line for run in runtime.all("RUN")), "nothing runs as root after USER"
    (healthcheck,) = runtime.all("HEALTHCHECK")
    assert healthcheck.exec_form() == ["python", "-m", "saas.http_probe"]
    (cmd,) = runtime.all("CMD")
    assert cmd.exec_form() == ["scripts/web"]
    assert (ROOT / "scripts" / "web").stat().st_mode & 0o111


def test_the_context_holds_no_tests_docs_or_local_state_and_all_the_app_needs():
    files = context_files()
    tops = {f.split("/")[0] for f in files}
    assert not tops & {"tests", "docs", "bench", "helm", "deploy", ".git", ".venv", ".data", ".ci", ".env"}
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    assert {
        "manage.py",
        "pyproject.toml",
        "requirements.lock",
        "requirements-nodeps.txt",
        "scripts/web",
    } <= set(files)
    assert {"saas", "static", "templates"} <= tops
    local_apps = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()}
    assert local_apps - {"tests"} <= tops


def _installed_closure(requirements: list[str]) -> dict[str, str]:
    """Name -> version of every installed distribution the requirements pull in."""
    found: dict[str, str] = {}
    pending = [(Requirement(r), "") for r in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        dist = metadata.distribution(requirement.name)
        if name in found and not requirement.extras:
            continue
        found[name] = dist.version
        for child in dist.requires or []:
            child_requirement = Requirement(child)
            for wanted in requirement.extras or {""}:
                pending.append((child_requirement, wanted))
    return found


def test_the_image_installs_the_runtime_dependencies_pinned_and_no_test_tool():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    builder = stages()[0]
    install = " ".join(r.arguments for r in builder.all("RUN"))
    assert "['project']['dependencies']" in install and "-c requirements.lock" in install
    assert "optional-dependencies" not in install
    closure = _installed_closure(project["dependencies"])
    assert not TEST_TOOLS & set(closure), sorted(TEST_TOOLS & set(closure))
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    # Names, not versions: the lock decides the image's versions (pip -c), whatever this
    # virtualenv holds today.
    unpinned = sorted(set(closure) - set(pins))
    assert unpinned == [], "pin them in requirements.lock (make lock)"
