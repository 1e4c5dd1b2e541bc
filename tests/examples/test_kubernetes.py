"""examples/kubernetes/ as shipped: every manifest valid for Kubernetes (the schemas of the
oldest release it needs and of the newest, strict: a misspelt field fails), the ConfigMap's
sites.toml loads with the environment the pods give it, the Indexed Job runs as many
shards as its pods, and the pods are locked down. No cluster needed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from ms365sync.cli import cli
from ms365sync.config import load_config
from ms365sync.shards import split
from support.certificates import make_certificate

FOLDER = Path(__file__).resolve().parents[2] / "examples" / "kubernetes"
MANIFESTS = sorted(p.name for p in FOLDER.glob("*.yaml") if p.name != "kustomization.yaml")
# backoffLimitPerIndex and the pod-index label need 1.29; the newest schemas shipped.
VERSIONS = ("1.29.0", "1.37.0")
CERT_IN_POD = "/var/run/secrets/ms365sync/app.pem"
ENVIRONMENT = {"TENANT_ID": "contoso.onmicrosoft.com",
               "CLIENT_ID": "11111111-2222-3333-4444-555555555555",
               "REDIS_URL": "redis://ms365sync-redis:6379/0"}  # fmt: skip


def _documents(name: str) -> list[dict[str, Any]]:
    with (FOLDER / name).open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def _one(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in _documents(name) if d["kind"] == kind]
    return found


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    job = spec["jobTemplate"]["spec"] if "jobTemplate" in spec else spec
    return dict(job["template"]["spec"])


def _workloads() -> list[dict[str, Any]]:
    kinds = {"CronJob", "StatefulSet", "Deployment"}
    return [doc for name in MANIFESTS for doc in _documents(name) if doc["kind"] in kinds]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", MANIFESTS)
def test_every_manifest_is_valid_kubernetes(name: str, version: str) -> None:
    documents = _documents(name)
    assert documents
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)
        assert document["metadata"].get("namespace", "ms365sync") == "ms365sync"


def test_the_kustomization_applies_everything_but_the_placeholder_secret() -> None:
    (kustomization,) = _documents("kustomization.yaml")
    resources = kustomization["resources"]
    assert all((FOLDER / name).is_file() for name in resources)
    assert "secret.yaml" not in resources  # applying it would overwrite the real Secret
    assert set(resources) == set(MANIFESTS) - {"secret.yaml", "statefulset-per-shard.yaml"}


def _config_source() -> str:
    return str(_one("ConfigMap", "configmap.yaml")["data"]["sites.toml"])


def _config_text(tmp_path: Path) -> Path:
    """The ConfigMap's sites.toml, with the pod's certificate path pointing at a real one."""
    text = _config_source()
    assert CERT_IN_POD in text
    (tmp_path / "secret").mkdir()
    pem, _ = make_certificate(tmp_path / "secret")
    path = tmp_path / "sites.toml"
    path.write_text(text.replace(CERT_IN_POD, str(pem)), encoding="utf-8")
    return path


def test_the_configmap_loads_with_the_pods_environment(tmp_path: Path) -> None:
    config = load_config(_config_text(tmp_path), environ=ENVIRONMENT)
    names = [target.name for target in config.targets()]
    assert len(names) == 8
    run = config.settings.run
    assert run.budget_url == ENVIRONMENT["REDIS_URL"]
    assert all(str(t.spec.local_root).startswith("/data/mirror/") for t in config.targets())
    for workload in _workloads():
        if workload["kind"] == "Deployment":
            continue
        grace = _pod(workload)["terminationGracePeriodSeconds"]
        assert grace >= run.stop_timeout + 30  # time to commit after the downloads stop
        env = {e["name"] for e in _pod(workload)["containers"][0]["env"]}
        assert (
            set(
                re.findall(
                    r"\$\{(\w+)\}", _one("ConfigMap", "configmap.yaml")["data"]["sites.toml"]
                )
            )
            <= env
        )


def _args(workload: dict[str, Any]) -> list[str]:
    return [str(arg) for arg in _pod(workload)["containers"][0]["args"]]


def test_the_indexed_job_runs_one_pod_per_shard_and_never_overlaps() -> None:
    cronjob = _one("CronJob", "cronjob.yaml")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    args = _args(cronjob)
    shards = int(args[args.index("--shards") + 1])
    assert job["completionMode"] == "Indexed"
    assert job["completions"] == job["parallelism"] == shards
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert _pod(cronjob)["restartPolicy"] == "Never"  # podFailurePolicy needs it
    assert job["podReplacementPolicy"] == "Failed"
    failing = job["podFailurePolicy"]["rules"][0]
    assert failing["action"] == "FailJob" and failing["onExitCodes"]["values"] == [2, 3]
    statefulset = _one("StatefulSet", "statefulset-per-shard.yaml")
    per_shard = _args(statefulset)
    assert int(per_shard[per_shard.index("--shards") + 1]) == statefulset["spec"]["replicas"]
    index_env = [e for e in _pod(statefulset)["containers"][0]["env"]
                 if e["name"] == "JOB_COMPLETION_INDEX"]  # fmt: skip
    assert index_env[0]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['apps.kubernetes.io/pod-index']"
    )


def test_each_pod_of_the_job_selects_its_shard(tmp_path: Path) -> None:
    config = _config_text(tmp_path)
    args = _args(_one("CronJob", "cronjob.yaml"))
    args[args.index("--config") + 1] = str(config)
    every = [t.name for t in load_config(config, environ=ENVIRONMENT).targets()]
    shards = int(args[args.index("--shards") + 1])
    seen: list[str] = []
    for index in range(shards):
        env = {**ENVIRONMENT, "JOB_COMPLETION_INDEX": str(index)}
        result = CliRunner().invoke(cli, [*args, "status", "--json"], env=env)
        assert result.exit_code == 0, result.output
        rows = [row["target"] for row in json.loads(result.stdout)["targets"]]
        assert rows == split(every, shards)[index]
        seen += rows
    assert sorted(seen) == sorted(every)


def test_only_the_sync_pods_may_reach_redis() -> None:
    policy = _one("NetworkPolicy", "redis.yaml")
    redis_labels = _one("Deployment", "redis.yaml")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= redis_labels.items()
    allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    sync_pod = _one("CronJob", "cronjob.yaml")["spec"]["jobTemplate"]["spec"]["template"]
    assert allowed.items() <= sync_pod["metadata"]["labels"].items()
    assert not allowed.items() <= redis_labels.items()


def test_the_pods_run_locked_down() -> None:
    for workload in _workloads():
        pod = _pod(workload)
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            assert "memory" in container["resources"]["limits"]


def test_the_secret_holds_placeholders_only_and_the_image_no_secret() -> None:
    secret = _one("Secret", "secret.yaml")
    values = secret["stringData"]
    assert set(values) == {"tenant-id", "client-id", "app.pem"}
    assert "PRIVATE KEY" not in values["app.pem"] and "PLACEHOLDER" in values["app.pem"]
    assert set(values["tenant-id"] + values["client-id"]) <= set("0-")
    dockerfile = (FOLDER / "Dockerfile").read_text(encoding="utf-8")
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert not re.search(r"(?i)(secret|password|token)\s*=", dockerfile)
