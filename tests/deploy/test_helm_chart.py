"""The Helm chart (helm/): rendered by the real Helm library (helm-python-sdk, offline) for
each values file of helm/ci/, linted, every object validated against the Kubernetes schemas
(kubernetes-validate), and the platform's essentials asserted on what it renders: one beat
with Recreate, the migration hook, probes everywhere, non-root and read-only everywhere, the
Ingress's hosts and limits, the queues the workers consume, the values schema."""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

from chat.services.agent_files import AGENT_MAX_MB, MAX_FILES
from chat.widget_api.attachments import ENVELOPE_BYTES, MAX_ATTACHMENT_MB
from knowledge.apis_sources import UPLOAD_ENVELOPE_BYTES
from knowledge.services import MAX_UPLOAD_MB
from saas.celery import app as celery_app

PROJECT = Path(__file__).resolve().parents[2]
CHART = PROJECT / "helm"
VALUES_FILES = ("minimal", "production", "autoscaling-off")
KUBERNETES_VERSION = "1.37.0"  # the newest kubernetes-validate ships
OLDEST_KUBERNETES = "1.30.0"  # Chart.yaml's kubeVersion (the preStop sleep action)
RELEASE, NAMESPACE = "bots", "platform"
MiB = 1024 * 1024
TMP = "/tmp"  # noqa: S108 - the containers' own writable emptyDir, not a file made here


def ci_values(name: str) -> dict[str, Any]:
    return yaml.safe_load((CHART / "ci" / f"{name}.yaml").read_text())


@cache
def _chart() -> helm.Chart:
    return helm.Chart.load(CHART)


def render(values: dict[str, Any], *, upgrade: bool = False) -> list[dict[str, Any]]:
    """Every object the chart renders for ``values`` (install, or upgrade)."""
    manifests = _chart().render(
        values, name=RELEASE, namespace=NAMESPACE, is_install=not upgrade, is_upgrade=upgrade
    )
    return [
        document
        for path, text in sorted(manifests.items())
        if path.endswith(".yaml")
        for document in yaml.safe_load_all(text)
        if document
    ]


@cache
def _rendered(name: str) -> str:
    return json.dumps(render(ci_values(name)))


@pytest.fixture(params=VALUES_FILES)
def objects(request) -> list[dict[str, Any]]:
    return json.loads(_rendered(request.param))


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    (found,) = [
        o for o in of_kind(objects, kind) if o["metadata"]["name"] == f"{RELEASE}-chatbot-platform{suffix}"
    ]
    return found


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["spec"])
        for o in objects
        if o["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet")
    ]


def container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in pod["containers"] if c["name"] == name]
    return found


def env_of(item: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in item.get("env", [])}


# --- The chart as Helm sees it -------------------------------------------------------------


@pytest.mark.parametrize("name", VALUES_FILES)
def test_the_chart_lints_clean(name):
    report = helm.lint(
        CHART, ci_values(name), strict=True, namespace=NAMESPACE, kube_version=f"v{OLDEST_KUBERNETES}"
    )
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []  # no warning, no error


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, KUBERNETES_VERSION])
def test_every_rendered_object_is_valid_for_kubernetes(objects, version):
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "Ingress", "ConfigMap", "Job", "ServiceAccount"} <= kinds
    for item in objects:
        if item["kind"] in ("ServiceMonitor", "PodMonitor"):  # the Prometheus Operator's own
            assert item["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        # Strict: an unknown or misplaced field fails as well as a wrong type.
        kubernetes_validate.validate(item, version, strict=True)


def test_the_chart_says_which_kubernetes_it_needs():
    assert _chart().metadata["kubeVersion"] == f">={OLDEST_KUBERNETES}-0"


def test_the_validation_rejects_what_kubernetes_would():
    deployment = named(json.loads(_rendered("minimal")), "Deployment", "-web")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_service_monitor_scrapes_the_web_pods():
    objects = json.loads(_rendered("production"))
    (monitor,) = of_kind(objects, "ServiceMonitor")
    web_service = named(objects, "Service", "-web")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= web_service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == web_service["spec"]["ports"][0]["name"] and endpoint["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "chatbot-platform-metrics", "key": "token"},
    }


def test_workers_serve_their_metrics_to_a_pod_monitor():
    objects = json.loads(_rendered("production"))
    (monitor,) = of_kind(objects, "PodMonitor")
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["authorization"]["credentials"] == {"name": "chatbot-platform-metrics", "key": "token"}
    selector = monitor["spec"]["selector"]["matchExpressions"]
    workers = [d for d in of_kind(objects, "Deployment") if "-worker-" in d["metadata"]["name"]]
    assert len(workers) == 2
    for deployment in workers:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert all(labels[rule["key"]] in rule["values"] for rule in selector)
        worker = container(deployment["spec"]["template"]["spec"], "worker")
        assert worker["command"][0] == "scripts/worker"
        (port,) = worker["ports"]
        assert port["name"] == endpoint["port"] == "metrics"
        assert env_of(worker)["METRICS_WORKER_PORT"] == str(port["containerPort"])
    web = named(objects, "Deployment", "-web")["spec"]["template"]["spec"]
    beat = named(objects, "Deployment", "-beat")["spec"]["template"]["spec"]
    assert "ports" not in container(beat, "beat")
    # Not a web pod: Prometheus may reach a worker's metrics port and nothing else of it.
    policy = named(objects, "NetworkPolicy", "-worker-metrics")["spec"]
    assert policy["ingress"] == [
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"port": "metrics", "protocol": "TCP"}],
        }
    ]
    assert "PROMETHEUS_MULTIPROC_DIR" in env_of(container(web, "web"))


def test_every_process_that_serves_metrics_records_them_under_the_writable_tmp(objects):
    """Several processes per pod add up through PROMETHEUS_MULTIPROC_DIR, which must be on
    the mounted /tmp (read-only root) and be made by the container's own start script
    (prometheus-client fails at import on a missing directory)."""
    for name, pod in pod_specs(objects):
        for item in pod["containers"]:
            directory = env_of(item).get("PROMETHEUS_MULTIPROC_DIR")
            if item["name"] in ("web", "worker"):
                assert directory and Path(directory).parent == Path(TMP), name
                assert item["command"][0] in ("scripts/web", "scripts/worker"), name
            else:
                assert directory is None, f"{name}/{item['name']} has no script making the directory"
    for script in ("web", "worker"):
        text = (PROJECT / "scripts" / script).read_text()
        assert 'mkdir -p "$PROMETHEUS_MULTIPROC_DIR"' in text and "-delete" in text


def test_the_metrics_token_reaches_the_secret_and_the_monitors_send_it():
    values = ci_values("minimal")
    values["secrets"]["metricsToken"] = "scrape-me"
    values["serviceMonitor"] = {"enabled": True}
    objects = render(values)
    secret = named(objects, "Secret", "-secrets")
    assert secret["stringData"]["METRICS_TOKEN"] == "scrape-me"
    for kind, endpoints in (("ServiceMonitor", "endpoints"), ("PodMonitor", "podMetricsEndpoints")):
        (monitor,) = of_kind(objects, kind)
        (endpoint,) = monitor["spec"][endpoints]
        credentials = endpoint["authorization"]["credentials"]
        assert credentials == {"name": secret["metadata"]["name"], "key": "METRICS_TOKEN"}
    assert "METRICS_TOKEN" not in named(objects, "ConfigMap", "-config")["data"]


def test_a_monitor_without_any_way_in_is_refused():
    values = {**ci_values("minimal"), "serviceMonitor": {"enabled": True}}
    with pytest.raises(helm.HelmError, match=r"set secrets\.metricsToken"):
        render(values)
    values["serviceMonitor"] = {"enabled": True, "sendToken": False}
    with pytest.raises(helm.HelmError, match=r"needs metrics\.allowedNetworks"):
        render(values)
    values["metrics"] = {"allowedNetworks": ["10.0.0.0/8"]}
    objects = render(values)
    (monitor,) = of_kind(objects, "ServiceMonitor")
    assert "authorization" not in monitor["spec"]["endpoints"][0]
    assert named(objects, "ConfigMap", "-config")["data"]["METRICS_ALLOWED_NETWORKS"] == "10.0.0.0/8"


# --- The processes -------------------------------------------------------------------------


def test_beat_is_one_replica_recreated_never_two(objects):
    beats = [d for d in of_kind(objects, "Deployment") if "beat" in d["metadata"]["name"]]
    assert len(beats) == 1
    (beat,) = beats
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"] == {"type": "Recreate"}
    command = container(beat["spec"]["template"]["spec"], "beat")["command"]
    assert command[:4] == ["celery", "-A", "saas", "beat"]
    assert command[command.index("--scheduler") + 1] == settings.CELERY_BEAT_SCHEDULER
    # Nothing scales it.
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")}
    assert beat["metadata"]["name"] not in targets


def test_the_web_runs_uvicorn_one_process_per_cpu_of_its_limit():
    pod = named(json.loads(_rendered("minimal")), "Deployment", "-web")["spec"]["template"]["spec"]
    web = container(pod, "web")
    assert web["command"] == ["scripts/web"]
    assert env_of(web)["WEB_CONCURRENCY"] == {
        "resourceFieldRef": {"containerName": "web", "resource": "limits.cpu", "divisor": "1"}
    }
    assert "cpu" in web["resources"]["limits"]
    fixed = named(json.loads(_rendered("autoscaling-off")), "Deployment", "-web")["spec"]["template"]["spec"]
    assert env_of(container(fixed, "web"))["WEB_CONCURRENCY"] == "2"


def test_a_stopping_web_pod_has_time_to_leave_the_endpoints_and_finish_its_answers(objects):
    """preStop sleep, then SIGTERM: answers get SHUTDOWN_GRACE_SECONDS, uvicorn 5 s more
    (scripts/web), all before the kubelet's SIGKILL (docs/deployment.md, "Graceful shutdown")."""
    pod = named(objects, "Deployment", "-web")["spec"]["template"]["spec"]
    web = container(pod, "web")
    sleep = web["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = int(env_of(web)["SHUTDOWN_GRACE_SECONDS"])
    assert sleep >= 1 and grace >= 1
    assert pod["terminationGracePeriodSeconds"] > sleep + grace + 5


def test_the_chart_refuses_a_termination_grace_period_shorter_than_the_shutdown():
    values = {
        **ci_values("minimal"),
        "web": {"terminationGracePeriodSeconds": 30, "shutdownGraceSeconds": 25},
    }
    with pytest.raises(helm.HelmError, match="terminationGracePeriodSeconds must exceed"):
        render(values)


def test_a_stopping_worker_finishes_or_hands_back_its_tasks_before_the_kill(objects):
    """SIGTERM is Celery's soft shutdown (tests/saas/test_celery.py): running tasks get
    softShutdownSeconds, then go back to the queue (acks late), well before the SIGKILL."""
    workers = [d for d in of_kind(objects, "Deployment") if "-worker-" in d["metadata"]["name"]]
    assert workers
    for deployment in workers:
        pod = deployment["spec"]["template"]["spec"]
        env = env_of(container(pod, "worker"))
        assert env["REMAP_SIGTERM"] == "SIGQUIT"
        soft = float(env["CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT"])
        assert 60 <= soft <= pod["terminationGracePeriodSeconds"] - 10
    beat = named(objects, "Deployment", "-beat")["spec"]["template"]["spec"]
    assert beat["terminationGracePeriodSeconds"] >= 10  # beat stops between ticks
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST


def test_the_chart_refuses_a_soft_shutdown_the_kill_would_cut():
    values = {
        **ci_values("minimal"),
        "worker": {"terminationGracePeriodSeconds": 60, "softShutdownSeconds": 55},
    }
    with pytest.raises(helm.HelmError, match="softShutdownSeconds must stay"):
        render(values)


def test_the_migration_job_runs_migrate_schemas_before_install_and_every_upgrade(objects):
    job = named(objects, "Job", "-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert container(pod, "migrate")["command"] == ["python", "manage.py", "migrate_schemas", "--noinput"]
    # What it reads exists when it runs: hooks made before it (a lower weight), or the
    # operator's own Secret.
    hooks = {
        (o["kind"], o["metadata"]["name"]): int(o["metadata"]["annotations"]["helm.sh/hook-weight"])
        for o in objects
        if "helm.sh/hook" in o["metadata"].get("annotations", {})
    }
    job_weight = hooks[("Job", job["metadata"]["name"])]
    for source in container(pod, "migrate")["envFrom"]:
        if "configMapRef" in source:
            assert hooks[("ConfigMap", source["configMapRef"]["name"])] < job_weight
        elif source["secretRef"]["name"] != ci_values_of(objects).get("existingSecret"):
            assert hooks[("Secret", source["secretRef"]["name"])] < job_weight
    # The release's ServiceAccount does not exist yet at pre-install.
    assert pod["serviceAccountName"] == "default"


def ci_values_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The values file these objects were rendered from."""
    domain = named(objects, "ConfigMap", "-config")["data"]["BASE_DOMAIN"]
    (name,) = [n for n in VALUES_FILES if ci_values(n)["baseDomain"] == domain]
    return ci_values(name)


def test_the_migration_hook_and_config_render_on_upgrade_too():
    objects = render(ci_values("minimal"), upgrade=True)
    assert (
        named(objects, "Job", "-migrate")["metadata"]["annotations"]["helm.sh/hook"]
        == "pre-install,pre-upgrade"
    )


def test_every_long_running_container_has_its_probes(objects):
    for name, pod in pod_specs(objects):
        if name.startswith("Job/"):
            continue  # the migration runs to its end: its deadline is activeDeadlineSeconds
        for item in pod["containers"]:
            assert "livenessProbe" in item, f"{name}/{item['name']} has no liveness probe"
            if item["name"] == "web":
                assert item["livenessProbe"]["httpGet"]["path"] == "/healthz"
                assert item["readinessProbe"]["httpGet"]["path"] == "/readyz"
            elif item["name"] == "worker":
                assert item["livenessProbe"]["exec"]["command"] == ["python", "-m", "scheduler.probe"]
                # It serves no traffic: only its metrics, on the port named so.
                assert "readinessProbe" not in item
                assert [p["name"] for p in item.get("ports", [])] in ([], ["metrics"])
            elif item["name"] == "beat":
                assert item["livenessProbe"]["exec"]["command"] == [
                    "python", "-m", "scheduler.probe", "--file", settings.BEAT_HEARTBEAT_FILE,
                ]  # fmt: skip
            else:
                assert item["name"] == "embedder" and "readinessProbe" in item, name


def test_every_command_the_chart_runs_exists_in_the_project(objects):
    commands = {tuple(item["command"]) for _, pod in pod_specs(objects) for item in pod["containers"]}
    probes = {
        tuple(item[probe]["exec"]["command"])
        for _, pod in pod_specs(objects)
        for item in pod["containers"]
        for probe in ("livenessProbe", "readinessProbe")
        if "exec" in item.get(probe, {})
    }
    django_commands = get_commands()
    for command in commands | probes:
        if command[0] in ("scripts/web", "scripts/worker"):
            assert os.access(PROJECT / command[0], os.X_OK)
        elif command[:2] == ("python", "-m"):
            assert importlib.util.find_spec(command[2]) is not None, command
        elif command[:2] == ("python", "manage.py"):
            assert command[2] in django_commands, command
        elif command[:2] == ("python", "-c"):
            compile(command[2], "<probe>", "exec")
        else:
            assert command[:3] == ("celery", "-A", "saas"), command
            if "--scheduler" in command:
                module, _, name = command[command.index("--scheduler") + 1].partition(":")
                assert hasattr(importlib.import_module(module), name)


def test_the_probes_read_the_heartbeat_files_the_processes_write(objects):
    data = named(objects, "ConfigMap", "-config")["data"]
    assert data["WORKER_HEARTBEAT_FILE"] == settings.WORKER_HEARTBEAT_FILE
    assert data["BEAT_HEARTBEAT_FILE"] == settings.BEAT_HEARTBEAT_FILE
    assert Path(settings.WORKER_HEARTBEAT_FILE).parent == Path(TMP)  # the writable emptyDir


def test_non_root_read_only_and_no_privilege_escalation_everywhere(objects):
    assert pod_specs(objects)
    for name, pod in pod_specs(objects):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["automountServiceAccountToken"] is False, name
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for item in pod["containers"] + pod.get("initContainers", []):
            where = f"{name}/{item['name']}"
            security = item["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["runAsNonRoot"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            mounts = {m["mountPath"]: m["name"] for m in item["volumeMounts"]}
            assert mounts.get(TMP) in tmp_volumes, f"{where} has no writable /tmp"
            assert item["resources"]["requests"] and item["resources"]["limits"]["memory"], where


def test_web_and_workers_spread_scale_and_stay_available():
    objects = json.loads(_rendered("minimal"))
    deployments = {d["metadata"]["name"]: d for d in of_kind(objects, "Deployment")}
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")}
    web_and_workers = {n for n in deployments if n.endswith("-web") or "-worker-" in n}
    assert len(web_and_workers) == 3 and web_and_workers <= scaled
    for name in web_and_workers:
        assert "replicas" not in deployments[name]["spec"], f"{name}: the HPA owns its replicas"
        pod = deployments[name]["spec"]["template"]["spec"]
        keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for budget in of_kind(objects, "PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        matched = [
            d
            for d in deployments.values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matched) == 1, budget["metadata"]["name"]
    assert {b["metadata"]["name"] for b in of_kind(objects, "PodDisruptionBudget")} >= web_and_workers

    fixed = json.loads(_rendered("autoscaling-off"))
    assert of_kind(fixed, "HorizontalPodAutoscaler") == []
    replicas = {d["metadata"]["name"]: d["spec"].get("replicas") for d in of_kind(fixed, "Deployment")}
    assert replicas == {
        f"{RELEASE}-chatbot-platform-web": 3,
        f"{RELEASE}-chatbot-platform-worker-default": 2,
        f"{RELEASE}-chatbot-platform-worker-ingest": 1,
        f"{RELEASE}-chatbot-platform-beat": 1,
        f"{RELEASE}-chatbot-platform-embedder": 1,
    }
    assert all("topologySpreadConstraints" not in pod for _, pod in pod_specs(fixed))


# --- Queues: ingestion cannot starve the rest ----------------------------------------------


def test_ingestion_has_its_own_queue_and_the_rest_the_default_one():
    def queue_of(task_name: str) -> str:
        return celery_app.amqp.router.route({}, task_name)["queue"].name

    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"
    assert queue_of("knowledge.tasks.source_ingest_task") == "ingest"
    assert queue_of("knowledge.tasks.knowledge_base_reembed_task") == "ingest"
    for short in (
        "webhooks.tasks.webhook_deliver",
        "chat.tasks.visitor_replies_email",
        "billing.tasks.stripe_events_pending",
    ):
        assert queue_of(short) == "default", short
    # A worker started without -Q (docker-compose, `make run`) consumes every declared queue.
    # (as a new process builds them: this one's may hold queues other tests sent to)
    assert set(celery_app.amqp.Queues(celery_app.conf.task_queues)) == {"default", "ingest"}


@pytest.mark.parametrize("name", VALUES_FILES)
def test_every_queue_tasks_go_to_has_a_worker_deployment(name):
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    declared = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    assert routed | {settings.CELERY_TASK_DEFAULT_QUEUE} <= declared
    consumed: dict[str, str] = {}
    for deployment in of_kind(json.loads(_rendered(name)), "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        for item in pod["containers"]:
            if item["command"][0] == "scripts/worker":  # celery -A saas worker "$@"
                for queue in item["command"][item["command"].index("-Q") + 1].split(","):
                    consumed[queue] = deployment["metadata"]["name"]
    assert declared <= consumed.keys()
    # Ingestion's workers take nothing else: a burst of it leaves the default queue alone.
    assert consumed["ingest"] != consumed["default"]


# --- Configuration -------------------------------------------------------------------------


def test_configuration_comes_from_the_config_map_and_the_secret():
    objects = json.loads(_rendered("minimal"))
    config = named(objects, "ConfigMap", "-config")["data"]
    assert config["BASE_DOMAIN"] == "chat.example.com"
    assert config["DJANGO_SETTINGS_MODULE"] == "saas.settings.production"
    secret = named(objects, "Secret", "-secrets")["stringData"]
    assert {"DJANGO_SECRET_KEY", "SECRET_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL"} <= secret.keys()
    assert "STRIPE_SECRET_KEY" not in secret  # billingDemo
    for name, pod in pod_specs(objects):
        for item in pod["containers"]:
            if item["name"] == "embedder":
                continue  # the embedding server needs no settings
            refs = {next(iter(s.values()))["name"] for s in item["envFrom"]}
            assert len(refs) == 2, name


def test_an_existing_secret_replaces_the_chart_s():
    objects = json.loads(_rendered("production"))
    assert of_kind(objects, "Secret") == []
    for name, pod in pod_specs(objects):
        for item in pod["containers"]:
            if item["name"] != "embedder":
                secrets = [s["secretRef"]["name"] for s in item["envFrom"] if "secretRef" in s]
                assert secrets == ["chatbot-platform-env"], name


def test_the_secrets_are_required_without_an_existing_secret():
    values = ci_values("minimal")
    del values["secrets"]["databaseUrl"]
    with pytest.raises(helm.HelmError, match=r"secrets\.databaseUrl is required"):
        render(values)
    values = {**ci_values("minimal"), "config": {"billingDemo": False}}
    with pytest.raises(helm.HelmError, match=r"secrets\.stripeSecretKey is required"):
        render(values)


def test_the_embedding_server_as_a_service_or_a_sidecar():
    objects = json.loads(_rendered("minimal"))
    service = named(objects, "Service", "-embedder")
    url = f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    web = named(objects, "Deployment", "-web")["spec"]["template"]["spec"]
    assert env_of(container(web, "web"))["EMBEDDING_SERVER_URL"] == url
    worker = named(objects, "Deployment", "-worker-ingest")["spec"]["template"]["spec"]
    assert env_of(container(worker, "worker"))["EMBEDDING_SERVER_URL"] == url
    embedder = named(objects, "Deployment", "-embedder")["spec"]["template"]["spec"]
    assert container(embedder, "embedder")["command"][:3] == ["python", "-m", "knowledge.embeddings.server"]

    sidecar = json.loads(_rendered("production"))
    assert [o for o in sidecar if o["metadata"]["name"].endswith("-embedder")] == []
    web = named(sidecar, "Deployment", "-web")["spec"]["template"]["spec"]
    assert env_of(container(web, "web"))["EMBEDDING_SERVER_URL"] == "unix:///run/embedder/embedder.sock"
    assert "--unix" in container(web, "embedder")["command"]


# --- The Ingress ---------------------------------------------------------------------------


def test_the_ingress_serves_the_domain_and_every_workspace_on_a_wildcard_certificate(objects):
    domain = ci_values_of(objects)["baseDomain"]
    ingress = named(objects, "Ingress", "")
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == [domain, f"*.{domain}"]
    (tls,) = ingress["spec"]["tls"]
    assert tls["hosts"] == hosts and tls["secretName"]
    for rule in ingress["spec"]["rules"]:
        (path,) = rule["http"]["paths"]
        assert path["backend"]["service"]["name"] == named(objects, "Service", "-web")["metadata"]["name"]


def test_cert_manager_annotations_come_from_values():
    annotations = named(json.loads(_rendered("production")), "Ingress", "")["metadata"]["annotations"]
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt-dns-production"
    annotations = named(json.loads(_rendered("autoscaling-off")), "Ingress", "")["metadata"]["annotations"]
    assert not any(key.startswith("cert-manager.io/") for key in annotations)


def _nginx_size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", text.lower()).groups()
    return int(number) * {"": 1, "k": 1024, "m": MiB, "g": 1024 * MiB}[unit]


def test_the_ingress_limits_match_the_platform_s(objects):
    annotations = named(objects, "Ingress", "")["metadata"]["annotations"]
    # The largest body the platform takes: an agent's reply with its files, a visitor's
    # attachment, a knowledge upload (each with its multipart envelope).
    largest = max(
        AGENT_MAX_MB * MAX_FILES * MiB + ENVELOPE_BYTES,
        MAX_ATTACHMENT_MB * MiB + ENVELOPE_BYTES,
        MAX_UPLOAD_MB * MiB + UPLOAD_ENVELOPE_BYTES,
    )
    body = _nginx_size(annotations["nginx.ingress.kubernetes.io/proxy-body-size"])
    assert largest <= body < largest + 2 * MiB  # enough, and not much more
    assert body == math.ceil(largest / MiB) * MiB
    # Streams: an answer may take LLM_DEADLINE_SECONDS; sockets idle between pings (25 s).
    read_timeout = int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"])
    assert read_timeout > settings.LLM_DEADLINE_SECONDS and read_timeout >= 600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 600
    assert annotations["nginx.ingress.kubernetes.io/proxy-http-version"] == "1.1"  # Upgrade


def test_network_policies_when_enabled():
    objects = json.loads(_rendered("production"))
    policies = {p["metadata"]["name"]: p for p in of_kind(objects, "NetworkPolicy")}
    web = policies[f"{RELEASE}-chatbot-platform-web"]["spec"]
    namespaces = [
        f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for f in web["ingress"][0]["from"]
    ]
    assert namespaces == ["ingress-nginx", "monitoring"]
    closed = policies[f"{RELEASE}-chatbot-platform-no-ingress"]["spec"]
    assert closed["policyTypes"] == ["Ingress"] and "ingress" not in closed
    assert of_kind(json.loads(_rendered("minimal")), "NetworkPolicy") == []


# --- values.schema.json and the README -----------------------------------------------------


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"web": {"replicas": "two"}}, "/web/replicas"),
        ({"webb": {"replicas": 2}}, "webb"),
        ({"embedder": {"mode": "daemonset"}}, "/embedder/mode"),
        ({"securityContext": {"readOnlyRootFilesystem": False}}, "/securityContext/readOnlyRootFilesystem"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "/podSecurityContext/runAsNonRoot"),
        ({"config": {"trustedProxies": "*"}}, "/config/trustedProxies"),
        ({"baseDomain": "https://chat.example.com"}, "/baseDomain"),
        ({"workers": {"default": {"queues": [], "concurrency": 2}}}, "/workers/default/queues"),
    ],
)
def test_the_values_schema_rejects_a_bad_value(change, where):
    values = {**ci_values("minimal"), **change}
    with pytest.raises(helm.HelmValuesError, match=re.escape(where)):
        _chart().validate_schema(values)
    with pytest.raises(helm.HelmError):
        render(values)


def test_the_values_schema_takes_the_defaults_and_every_ci_file():
    _chart().validate_schema({})  # the chart's own defaults
    for name in VALUES_FILES:
        _chart().validate_schema(ci_values(name))


def _value_paths(values: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in ("requests", "limits"):
            paths.extend(_value_paths(value, f"{path}."))
        else:
            paths.append(path)
    return paths


def test_the_readme_lists_every_value():
    readme = (CHART / "README.md").read_text()
    listed = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.MULTILINE))
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    paths = [p.replace("workers.default.", "workers.<group>.") for p in _value_paths(defaults)]
    paths = [p for p in paths if not p.startswith("workers.ingest.")]
    missing = [p for p in paths if p not in listed]
    assert missing == []
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert set(schema["properties"]) - {"global"} == set(defaults)  # no value without a schema


def test_the_install_notes_warn_of_a_missing_proxy_list_and_bucket():
    def notes(name: str) -> str:
        rendered = _chart().render(ci_values(name), name=RELEASE, namespace=NAMESPACE, is_install=True)
        return rendered["chatbot-platform/templates/NOTES.txt"]

    assert "createsuperuser" in notes("production") and "WARNING" not in notes("production")
    warned = notes("minimal")
    assert "config.trustedProxies is empty" in warned and "config.s3.bucket is empty" in warned


def test_extra_environment_reaches_the_config_map_and_its_group_s_workers_only():
    objects = json.loads(_rendered("production"))
    assert named(objects, "ConfigMap", "-config")["data"]["LLM_DEADLINE_SECONDS"] == "30"
    shutdown = {"REMAP_SIGTERM", "CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT"}  # every worker's
    metrics = {"PROMETHEUS_MULTIPROC_DIR": "/tmp/prometheus", "METRICS_WORKER_PORT": "9808"}  # noqa: S108

    def extra(group: str) -> dict[str, Any]:
        pod = named(objects, "Deployment", f"-worker-{group}")["spec"]["template"]["spec"]
        return {k: v for k, v in env_of(container(pod, "worker")).items() if k not in shutdown}

    assert extra("ingest") == {**metrics, "KNOWLEDGE_INGEST_TIME_LIMIT": "1800"}
    assert extra("default") == metrics
