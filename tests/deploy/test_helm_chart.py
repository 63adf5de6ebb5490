"""The Helm chart renders with default and production values into valid Kubernetes objects.

No `helm` binary is installable from this project's registries, so tests/deploy/gotemplate.py renders the
chart (a Go-template subset); the manifests are then checked as Kubernetes objects.
"""

from __future__ import annotations

import pytest
import yaml

from tests.deploy.chart import CHART, by_kind, pod_specs, render_default, render_production
from tests.deploy.gotemplate import RequiredValueError

RENDERS = {"default": render_default, "production": render_production}


@pytest.fixture(params=sorted(RENDERS))
def documents(request):
    return RENDERS[request.param]()


def test_chart_metadata_lists_postgresql_and_redis_as_optional_dependencies():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    conditions = {dep["name"]: dep["condition"] for dep in chart["dependencies"]}
    assert conditions == {"postgresql": "postgresql.enabled", "redis": "redis.enabled"}
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["postgresql"]["enabled"] is False and values["redis"]["enabled"] is False


def test_every_manifest_has_api_version_kind_and_a_dns_safe_name(documents):
    assert documents
    for doc in documents:
        assert doc.get("apiVersion") and doc.get("kind"), doc["__source__"]
        name = doc["metadata"]["name"]
        assert len(name) <= 63 and name == name.lower() and not name.endswith("-"), name


def test_deployment_selectors_match_their_pod_labels(documents):
    deployments = by_kind(documents, "Deployment")
    assert len(deployments) == 3  # web, worker-cpu, worker-gpu
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name
    selectors = [tuple(sorted(d["spec"]["selector"]["matchLabels"].items())) for d in deployments.values()]
    assert len(set(selectors)) == len(selectors), "two Deployments would select each other's pods"


def test_every_container_has_an_image_and_resources(documents):
    for name, spec in pod_specs(documents):
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert ":" in container["image"], (name, container["name"])
            assert container["resources"]["requests"] and container["resources"]["limits"], name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_gpu_workers_request_gpus_and_land_on_gpu_nodes_while_cpu_workers_do_not(documents):
    deployments = by_kind(documents, "Deployment")
    gpu = deployments["atrium-worker-gpu"]["spec"]["template"]["spec"]
    cpu = deployments["atrium-worker-cpu"]["spec"]["template"]["spec"]
    worker = gpu["containers"][0]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert worker["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert gpu["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu["tolerations"]
    assert "nvidia.com/gpu" not in cpu["containers"][0]["resources"]["limits"]
    assert "tolerations" not in cpu
    assert worker["args"][worker["args"].index("-Q") + 1] == "gpu"
    assert worker["args"][worker["args"].index("--concurrency") + 1] == "1"
    assert cpu["containers"][0]["args"][cpu["containers"][0]["args"].index("-Q") + 1] == "cpu"


def test_web_probes_point_at_the_health_endpoints_with_an_allowed_host(documents):
    web = by_kind(documents, "Deployment")["atrium-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert web["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert web["startupProbe"]["httpGet"]["path"] == "/health/live"
    env = {item["name"]: item.get("value") for item in web["env"]}
    for probe in ("livenessProbe", "readinessProbe"):
        headers = {h["name"]: h["value"] for h in web[probe]["httpGet"]["httpHeaders"]}
        assert headers["Host"] in env["ALLOWED_HOSTS"].split(",")
        assert headers["X-Forwarded-Proto"] == "https"
    assert web["livenessProbe"]["httpGet"]["port"] in [p["name"] for p in web["ports"]]


def test_secrets_reach_every_pod_only_as_files(documents):
    for name, spec in pod_specs(documents):
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec.get("initContainers", []) + spec["containers"]:
            env = {item["name"]: item for item in container["env"]}
            for secret in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
                assert secret not in env, (name, secret)
                path = env[f"{secret}_FILE"]["value"]
                mount = next(m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
                assert "secret" in volumes[mount["name"]], (name, secret)


def test_production_uses_the_existing_secret_and_the_default_creates_one():
    production = render_production()
    assert not by_kind(production, "Secret")
    web = by_kind(production, "Deployment")["atrium-web"]["spec"]["template"]["spec"]
    assert {"name": "secrets", "secret": {"secretName": "atrium-secrets", "defaultMode": 0o440}} in web[
        "volumes"
    ]
    created = by_kind(render_default(), "Secret")["atrium-secrets"]
    assert set(created["stringData"]) == {"secret-key", "database-url", "redis-url"}


def test_a_trial_install_without_a_secret_key_fails_with_a_clear_message():
    with pytest.raises(RequiredValueError, match=r"secrets\.secretKey"):
        render_default(secrets={"secretKey": ""})


def test_production_autoscales_the_web_and_the_default_pins_its_replicas():
    production = render_production()
    hpa = by_kind(production, "HorizontalPodAutoscaler")["atrium-web"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "atrium-web",
    }
    assert hpa["spec"]["minReplicas"] == 2
    assert "replicas" not in by_kind(production, "Deployment")["atrium-web"]["spec"]
    default = render_default()
    assert not by_kind(default, "HorizontalPodAutoscaler")
    assert by_kind(default, "Deployment")["atrium-web"]["spec"]["replicas"] == 1


def test_the_ingress_routes_every_path_including_websockets_to_the_web_service():
    production = render_production()
    ingress = by_kind(production, "Ingress")["atrium"]
    service = by_kind(production, "Service")["atrium-web"]
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "atrium.hospital.example"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in [p["name"] for p in service["spec"]["ports"]]
    assert ingress["spec"]["tls"][0]["secretName"] == "atrium-tls"
    assert not by_kind(render_default(), "Ingress")


def test_services_select_the_web_pods():
    documents = render_default()
    service = by_kind(documents, "Service")["atrium-web"]
    pod_labels = by_kind(documents, "Deployment")["atrium-web"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_migrations_run_in_a_hook_job_and_pods_wait_for_them(documents):
    job = by_kind(documents, "Job")["atrium-migrate"]
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert "pre-upgrade" in hooks and "post-install" in hooks
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == ["migrate", "--noinput"]
    for name, deployment in by_kind(documents, "Deployment").items():
        init = deployment["spec"]["template"]["spec"]["initContainers"]
        assert [c["args"] for c in init] == [["wait-for-migrations"]], name


def test_media_is_one_shared_claim_kept_when_the_release_is_deleted(documents):
    claims = by_kind(documents, "PersistentVolumeClaim")
    assert list(claims) == ["atrium-media"]
    claim = claims["atrium-media"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    for name, spec in pod_specs(documents):
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["media"]["persistentVolumeClaim"]["claimName"] == "atrium-media", name


def test_an_existing_claim_replaces_the_chart_s_own():
    documents = render_default(media={"persistence": {"existingClaim": "nfs-atrium"}})
    assert not by_kind(documents, "PersistentVolumeClaim")
    for _, spec in pod_specs(documents):
        assert {v["name"]: v for v in spec["volumes"]}["media"]["persistentVolumeClaim"][
            "claimName"
        ] == "nfs-atrium"


def test_bundled_postgresql_and_redis_get_urls_to_their_services():
    documents = render_default(
        postgresql={"enabled": True, "auth": {"password": "pg-pass"}},
        redis={"enabled": True},
        secrets={"databaseUrl": "", "redisUrl": ""},
    )
    data = by_kind(documents, "Secret")["atrium-secrets"]["stringData"]
    assert data["database-url"] == "postgres://atrium:pg-pass@atrium-postgresql:5432/atrium"
    assert data["redis-url"] == "redis://atrium-redis-master:6379/0"


def test_s3_media_sets_the_bucket_and_passes_the_keys_as_files():
    documents = render_default(
        media={"s3": {"enabled": True, "bucket": "atrium-media", "endpointUrl": "https://s3.example"}},
        secrets={"awsAccessKeyId": "AKIA", "awsSecretAccessKey": "shh"},
    )
    web = by_kind(documents, "Deployment")["atrium-web"]["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in web["env"]}
    assert env["ATRIUM_STORAGE"] == "s3"
    assert env["AWS_STORAGE_BUCKET_NAME"] == "atrium-media"
    assert env["AWS_ACCESS_KEY_ID_FILE"] == "/run/secrets/atrium/aws-access-key-id"
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert {"aws-access-key-id", "aws-secret-access-key"} <= set(
        by_kind(documents, "Secret")["atrium-secrets"]["stringData"]
    )


def test_gpu_workers_export_metrics_on_their_port():
    documents = render_production()
    pod = by_kind(documents, "Deployment")["atrium-worker-gpu"]["spec"]["template"]
    worker = pod["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in worker["env"]}
    assert env["ATRIUM_WORKER_METRICS_PORT"] == "9100"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9100"
    assert {"name": "metrics", "containerPort": 9100} in worker["ports"]
    web_env = {
        item["name"]: item.get("value")
        for item in by_kind(documents, "Deployment")["atrium-web"]["spec"]["template"]["spec"]["containers"][
            0
        ]["env"]
    }
    assert web_env["ATRIUM_METRICS_TOKEN_FILE"] == "/run/secrets/atrium/metrics-token"
