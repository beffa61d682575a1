"""deploy/k8s: every manifest validates against the Kubernetes JSON schemas (kubernetes-validate bundles them, so
this runs offline, like kubeconform), and the kustomization carries what the issue asks for."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from stack import REPO_ROOT

K8S = REPO_ROOT / "deploy" / "k8s"
# The oldest Kubernetes we claim (autoscaling/v2 and policy/v1 are GA there) and the newest the validator knows.
VERSIONS = ["1.28.0", kubernetes_validate.latest_version()]
CLUSTER_SCOPED = {"Namespace"}


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def build() -> list[dict[str, Any]]:
    """What `kustomize build` makes of this kustomization: its resources, namespaced, with the image names set."""
    config = kustomization()
    images = {image["name"]: f"{image['newName']}:{image['newTag']}" for image in config.get("images", [])}
    built = []
    for resource in config["resources"]:
        for doc in load(K8S / resource):
            if doc["kind"] not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = config["namespace"]
            spec = doc.get("spec", {}).get("template", {}).get("spec", {})
            for container in [*spec.get("containers", []), *spec.get("initContainers", [])]:
                container["image"] = images.get(container["image"], container["image"])
            built.append(doc)
    # The kustomization's replacements: each migration Job is named after its service's image tag.
    tags = {
        doc["metadata"]["name"]: doc["spec"]["template"]["spec"]["containers"][0]["image"].split(":")[1]
        for doc in built
        if doc["kind"] == "Deployment"
    }
    for doc in built:
        if doc["kind"] == "Job":
            service = doc["metadata"]["name"].removesuffix("-migrate")
            doc["metadata"]["name"] = f"{service}-migrate-{tags[service]}"
    return built


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in build() if doc["kind"] == kind}


def pod_specs() -> dict[str, dict[str, Any]]:
    return {
        f"{doc['kind']}/{doc['metadata']['name']}": doc["spec"]["template"]["spec"]
        for doc in build()
        if doc["kind"] in {"Deployment", "Job"}
    }


def manifest_ids() -> list[str]:
    return [
        f"{path.name}:{doc['kind']}/{doc['metadata']['name']}"
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load(path)
    ]


def manifests() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml" for doc in load(path)]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("index", range(len(manifest_ids())), ids=manifest_ids())
def test_manifest_is_valid_kubernetes(index, version):
    # strict: unknown fields are errors too (a typo such as `readinesProbe` would otherwise pass).
    kubernetes_validate.validate(manifests()[index], version, strict=True)


def test_the_validator_catches_a_wrong_field():
    deployment = by_kind("Deployment")["inventory"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


def test_the_kustomization_lists_every_manifest_but_the_secret_example():
    listed = set(kustomization()["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present - {"secret.example.yaml"}
    assert not any(doc["kind"] == "Secret" for doc in build()), "no Secret may be committed into the kustomization"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl here; the Python build above stands in")
def test_kubectl_kustomize_builds_the_same_objects():
    result = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in built} == {
        (d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in build()
    }
    for doc in built:
        kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "drivenow"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl here to build the kustomization with")
def test_a_new_image_tag_makes_new_migration_jobs(tmp_path):
    # A Job's pod template is immutable: re-applying with a new image must create new Jobs, not change the old.
    def job_names(tag: str) -> set[str]:
        copy = tmp_path / tag
        shutil.copytree(K8S, copy)
        config = kustomization()
        for image in config["images"]:
            image["newTag"] = tag
        (copy / "kustomization.yaml").write_text(yaml.safe_dump(config))
        result = subprocess.run(["kubectl", "kustomize", str(copy)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
        images = {c["image"] for d in built if d["kind"] == "Job" for c in d["spec"]["template"]["spec"]["containers"]}
        assert all(image.endswith(f":{tag}") for image in images), images
        return {d["metadata"]["name"] for d in built if d["kind"] == "Job"}

    assert job_names("1.0.0") == {"inventory-migrate-1.0.0", "booking-migrate-1.0.0"}
    assert job_names("1.1.0") == {"inventory-migrate-1.1.0", "booking-migrate-1.1.0"}


def test_services_have_probes_on_health_endpoints():
    for name in ("inventory", "booking"):
        [container] = by_kind("Deployment")[name]["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live"


def test_every_container_has_requests_and_limits_and_runs_unprivileged():
    for name, spec in pod_specs().items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for container in [*spec["containers"], *spec.get("initContainers", [])]:
            resources = container["resources"]
            assert set(resources["requests"]) >= {"cpu", "memory"}, name
            assert set(resources["limits"]) >= {"cpu", "memory"}, name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["image"].startswith("registry.example.com/drivenow/"), name


def test_secrets_are_referenced_and_configmaps_exist():
    configmaps = set(by_kind("ConfigMap"))
    example = {doc["metadata"]["name"]: doc for doc in load(K8S / "secret.example.yaml")}
    for name, spec in pod_specs().items():
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in configmaps, name
            refs = [v["valueFrom"]["secretKeyRef"] for v in container.get("env", []) if "valueFrom" in v]
            assert refs, f"{name} reads no Secret"
            for ref in refs:
                # An optional key (Stripe's, only with BOOKING_PAYMENT_PROVIDER=stripe) may be left out of the
                # Secret, and Kubernetes then sets no variable; every other key must be in the example.
                if ref.get("optional"):
                    assert ref["key"] not in example[ref["name"]]["stringData"], f"{name}: {ref} is optional"
                    continue
                assert ref["key"] in example[ref["name"]]["stringData"], f"{name}: {ref}"
            literal = [v["name"] for v in container.get("env", []) if "value" in v]
            assert not any(re.search("SECRET|PASSWORD|TOKEN", name) for name in literal), name


def test_each_service_has_a_migration_job_per_release_and_waits_for_it():
    jobs = by_kind("Job")
    tags = {image["name"].split("/")[-1]: image["newTag"] for image in kustomization()["images"]}
    assert set(jobs) == {f"inventory-migrate-{tags['inventory']}", f"booking-migrate-{tags['booking']}"}
    for name in ("inventory", "booking"):
        job = jobs[f"{name}-migrate-{tags[name]}"]["spec"]["template"]["spec"]["containers"][0]
        assert "migrate" in " ".join(job["command"])
        [wait] = by_kind("Deployment")[name]["spec"]["template"]["spec"]["initContainers"]
        assert "migrate --check" in " ".join(wait["command"])


def test_hpas_scale_both_services():
    hpas = by_kind("HorizontalPodAutoscaler")
    deployments = by_kind("Deployment")
    for name in ("inventory", "booking"):
        target = hpas[name]["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments
        assert hpas[name]["spec"]["minReplicas"] >= 2


def test_services_select_their_deployments_pods():
    for name, service in by_kind("Service").items():
        labels = by_kind("Deployment")[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()


def test_the_ingress_routes_like_the_gateway_and_hides_reservations():
    [ingress] = by_kind("Ingress").values()
    routes = {
        (rule["host"], path["path"]): path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    api = "api.drivenow.example"
    assert routes[(api, "/api/v1/cars")] == "inventory"
    assert routes[(api, "/api/v1/customers")] == "booking"
    assert routes[(api, "/api/v1/rentals")] == "booking"
    for prices in ("/api/v1/rate-plans", "/api/v1/extras", "/api/v1/quotes", "/api/v1/payments"):
        assert routes[(api, prices)] == "booking"
    assert not any("reservations" in path for _, path in routes)
    assert not any(path in ("/", "/api", "/api/v1") for _, path in routes), "a catch-all would expose reservations"
    for service in ("inventory", "booking"):
        for path in ("/docs", "/schema", "/static"):
            assert routes[(f"{service}.drivenow.example", path)] == service
    services = set(by_kind("Service"))
    assert set(routes.values()) <= services


def test_booking_talks_to_the_inventory_service_directly():
    config = by_kind("ConfigMap")["booking-config"]["data"]
    assert config["BOOKING_INVENTORY_URL"] == "http://inventory:3131"


@pytest.mark.parametrize("project", ["inventory_project", "booking_project"])
def test_production_refuses_every_value_of_the_secret_example(project):
    # Whoever applies the example as it is gets services that refuse to start, not a cluster with public keys.
    from django.core.exceptions import ImproperlyConfigured

    from stack import published_secrets

    is_published, refuse_published_secrets = (
        getattr(published_secrets(project), name) for name in ("is_published", "refuse_published_secrets")
    )

    secrets = [doc for doc in load(K8S / "secret.example.yaml") if doc["kind"] == "Secret"]
    assert {secret["metadata"]["name"] for secret in secrets} == {"inventory-secrets", "booking-secrets"}
    for secret in secrets:
        for name, value in secret["stringData"].items():
            assert is_published(value), (secret["metadata"]["name"], name)
            with pytest.raises(ImproperlyConfigured, match=name):
                refuse_published_secrets({name: value})
