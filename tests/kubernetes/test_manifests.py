"""deploy/kubernetes cannot be applied here (no cluster): render each kustomization, validate it
against Kubernetes' own schemas (kubernetes-validate) and the operators' resources against the
schemas in operator_schemas.yaml, and check that it says what the code says."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from commercialization.entrypoints.main import CommercializationSettings
from commercialization.entrypoints.main import spec as commercialization_spec
from console.settings import ConsoleSettings
from console.web import create_app
from incubation.entrypoints.main import IncubationSettings
from incubation.entrypoints.main import spec as incubation_spec
from ip_registry.entrypoints.main import IpRegistrySettings
from ip_registry.entrypoints.main import spec as ip_registry_spec
from ipshare.bus import dead_letter_topic_of, topic_of
from ipshare.database import sqlalchemy_url
from ipshare.eventstore import persistence_env
from ipshare.runtime import Runtime, ServiceSpec
from ipshare.settings import ServiceSettings
from revenue_share.entrypoints.main import spec as revenue_share_spec
from revenue_share.settings import RevenueShareSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
KUSTOMIZATIONS = [DEPLOY / "base", DEPLOY / "overlays" / "staging", DEPLOY / "overlays" / "production"]
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]  # the oldest and the newest the manifests are checked for
OPERATOR_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "Cluster", "Database"}
SUPERUSER_RESERVED_CONNECTIONS = 3  # PostgreSQL's default
SECRET_SETTINGS = {"OIDC_CLIENT_SECRET", "DATABASE_URL", "AUDIT_SIGNING_KEY", "JWT_SECRET"}
SERVICE_SECRETS = {"OIDC_CLIENT_SECRET", "DATABASE_URL", "AUDIT_SIGNING_KEY"}


@dataclass(frozen=True)
class Component:
    settings: type[ServiceSettings] | type[ConsoleSettings]
    spec: ServiceSpec[Any, Any] | None  # None: the console, which is no event-sourced service

    def api(self) -> FastAPI:
        """The app the component serves, built to list its routes (nothing is started or connected)."""
        if self.spec is None:
            return create_app(ConsoleSettings())
        return self.spec.http(UnstartedRuntime(self.spec))


class UnstartedRuntime(Runtime[Any, Any]):
    """A service's runtime with its application on the in-memory store and an engine that never
    connects: enough to build its HTTP app, whose routes the probes are checked against."""

    def __init__(self, spec: ServiceSpec[Any, Any]) -> None:
        super().__init__(spec)
        self._app = spec.application(persistence_env(None))
        self._engine = create_async_engine(sqlalchemy_url(spec.settings.database_url))


COMPONENTS = {
    "ip-registry": Component(IpRegistrySettings, ip_registry_spec()),
    "commercialization": Component(CommercializationSettings, commercialization_spec()),
    "incubation": Component(IncubationSettings, incubation_spec()),
    "revenue-share": Component(RevenueShareSettings, revenue_share_spec()),
    "console": Component(ConsoleSettings, None),
}
SERVICES = [name for name, component in COMPONENTS.items() if component.spec is not None]


# A renderer for the part of kustomize these kustomizations use; any other field fails the test
# instead of being ignored.
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "labels", "resources", "images", "replicas", "patches"}


def render(directory: Path) -> list[dict[str, Any]]:
    """The resources `kustomize build directory` gives, for the subset of kustomize used here."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(kustomization) <= KUSTOMIZATION_FIELDS, f"{directory}: {set(kustomization) - KUSTOMIZATION_FIELDS}"
    resources: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        resources += render(path) if path.is_dir() else [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for patch in kustomization.get("patches", []):
        assert set(patch) == {"path"}, f"only strategic-merge patch files are rendered: {patch}"
        patch_doc = yaml.safe_load((directory / patch["path"]).read_text())
        target = find(resources, patch_doc["kind"], patch_doc["metadata"]["name"])
        target.update(merged(target, patch_doc))
    for replicas in kustomization.get("replicas", []):
        find(resources, "Deployment", replicas["name"])["spec"]["replicas"] = replicas["count"]
    for image in kustomization.get("images", []):
        retag(resources, image)
    for labels in kustomization.get("labels", []):
        assert set(labels) == {"pairs"}, "labels go on the resources' metadata only"
        for resource in resources:
            resource["metadata"].setdefault("labels", {}).update(labels["pairs"])
    if "namespace" in kustomization:
        for resource in resources:
            resource["metadata"]["namespace"] = kustomization["namespace"]
    return resources


def merged(base: Any, patch: Any) -> Any:
    """A strategic merge: maps merge key by key, lists of named items merge by name, the rest is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        result = copy.deepcopy(base)
        for key, value in patch.items():
            result[key] = merged(base[key], value) if key in base else value
        return result
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(i, dict) and "name" in i for i in patch):
        result_list = copy.deepcopy(base)
        for item in patch:
            found = [i for i, old in enumerate(result_list) if old.get("name") == item["name"]]
            if found:
                result_list[found[0]] = merged(result_list[found[0]], item)
            else:
                result_list.append(item)
        return result_list
    return patch


def retag(resources: list[dict[str, Any]], image: dict[str, str]) -> None:
    assert set(image) <= {"name", "newName", "newTag"}, image
    for container in containers(resources):
        name, _, tag = container["image"].rpartition(":")
        if name == image["name"]:
            container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def find(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    return found


def of_kind(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["kind"] == kind]


def containers(resources: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for deployment in of_kind(resources, "Deployment"):
        yield from deployment["spec"]["template"]["spec"]["containers"]


def container_of(resources: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [container] = find(resources, "Deployment", name)["spec"]["template"]["spec"]["containers"]
    return container


def environment(resources: list[dict[str, Any]], name: str) -> dict[str, str]:
    """The settings a component's container gets from its ConfigMaps (secrets left out)."""
    env: dict[str, str] = {}
    for source in container_of(resources, name).get("envFrom", []):
        env.update(find(resources, "ConfigMap", source["configMapRef"]["name"])["data"])
    return env


@pytest.fixture(scope="module", params=KUSTOMIZATIONS, ids=lambda path: str(path.relative_to(DEPLOY)))
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_resource_is_valid_for_its_schema(rendered: list[dict[str, Any]], version: str) -> None:
    for resource in rendered:
        if resource["kind"] not in OPERATOR_KINDS:
            kubernetes_validate.validate(resource, version, strict=True)


def test_every_operator_resource_is_valid_for_the_fields_it_uses(rendered: list[dict[str, Any]]) -> None:
    schemas = yaml.safe_load((Path(__file__).parent / "operator_schemas.yaml").read_text())
    for resource in rendered:
        if resource["kind"] in OPERATOR_KINDS:
            jsonschema.validate(resource, schemas[resource["kind"]])
    assert {r["kind"] for r in rendered} >= OPERATOR_KINDS


def test_each_component_runs_two_or_more_replicas_with_a_disruption_budget(rendered: list[dict[str, Any]]) -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind(rendered, "Deployment")}
    assert set(deployments) == set(COMPONENTS)
    budgets = of_kind(rendered, "PodDisruptionBudget")
    for name, deployment in deployments.items():
        replicas = deployment["spec"]["replicas"]
        assert replicas >= 2, f"{name} runs {replicas} replica(s)"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        [budget] = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert 1 <= budget["spec"]["minAvailable"] < replicas, f"{name}: a drain could never evict one"


def test_probes_ask_routes_the_apps_serve_on_the_port_they_listen_on(rendered: list[dict[str, Any]]) -> None:
    for name, component in COMPONENTS.items():
        container = container_of(rendered, name)
        routes = {getattr(route, "path", None) for route in component.api().routes}
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports["http"] == int(environment(rendered, name)["HTTP_PORT"])
        probes = {kind: container[kind]["httpGet"] for kind in ("readinessProbe", "livenessProbe", "startupProbe")
                  if kind in container}  # fmt: skip
        for kind, probe in probes.items():
            assert probe["path"] in routes, f"{name}'s {kind} asks {probe['path']}, which it does not serve"
            assert probe["port"] in ports, f"{name}'s {kind} names port {probe['port']}"
        if component.spec is not None:  # readiness on the dependencies; liveness never on them
            assert probes["readinessProbe"]["path"] == "/healthz"
            assert probes["livenessProbe"]["path"] == probes["startupProbe"]["path"] == "/livez"


def test_every_container_has_requests_limits_and_a_pinned_image(rendered: list[dict[str, Any]]) -> None:
    for container in containers(rendered):
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{container['name']} {kind}"
        name, _, tag = container["image"].rpartition(":")
        assert name, f"{container['name']}: {container['image']} has no tag"
        assert "/" not in tag, f"{container['name']}: {container['image']} has no tag"
        assert tag != "latest", f"{container['name']} runs :latest"
    [postgres] = of_kind(rendered, "Cluster")
    assert not postgres["spec"]["imageName"].endswith(":latest")
    assert ":" in postgres["spec"]["imageName"]


def test_no_secret_value_is_in_the_manifests(rendered: list[dict[str, Any]]) -> None:
    assert not of_kind(rendered, "Secret"), "Secrets are made outside the repository"
    for config_map in of_kind(rendered, "ConfigMap"):
        assert not SECRET_SETTINGS & set(config_map["data"]), config_map["metadata"]["name"]
    for name, component in COMPONENTS.items():
        env = {e["name"]: e for e in container_of(rendered, name).get("env", [])}
        expected = SERVICE_SECRETS if component.spec is not None else {"OIDC_CLIENT_SECRET"}
        assert set(env) == expected, f"{name} takes {set(env)} from its Secrets, not {expected}"
        for setting, entry in env.items():
            assert "value" not in entry, f"{name} inlines {setting}"
            assert entry["valueFrom"]["secretKeyRef"] == {"name": f"{name}-secrets", "key": setting}


def test_components_check_tokens_at_the_identity_provider_outside_development_mode(
    rendered: list[dict[str, Any]],
) -> None:
    for name, component in COMPONENTS.items():
        env = environment(rendered, name)
        settings = component.settings(**{key.lower(): value for key, value in env.items()})
        assert not settings.ipshare_dev_mode
        assert settings.uses_issuer
        assert settings.oidc_issuer.startswith("https://")
        assert settings.oidc_client_id == name
        settings.refuse_development_auth()  # raises where a component would start in development mode


def test_configmaps_set_only_settings_the_components_read(rendered: list[dict[str, Any]]) -> None:
    for name, component in COMPONENTS.items():
        known = {field.upper() for field in component.settings.model_fields}
        assert set(environment(rendered, name)) <= known, set(environment(rendered, name)) - known


def test_addresses_name_the_services_and_their_ports(rendered: list[dict[str, Any]]) -> None:
    addresses = find(rendered, "ConfigMap", "ipshare-addresses")["data"]
    for name in SERVICES:
        ports = {p["name"]: p["port"] for p in find(rendered, "Service", name)["spec"]["ports"]}
        prefix = name.upper().replace("-", "_")
        assert addresses[f"{prefix}_GRPC_ADDRESS"] == f"{name}:{ports['grpc']}"
        assert addresses[f"{prefix}_URL"] == f"http://{name}:{ports['http']}"
        env = environment(rendered, name)
        assert (ports["http"], ports["grpc"]) == (int(env["HTTP_PORT"]), int(env["GRPC_PORT"]))


def test_topics_are_the_services_topics_as_their_settings_create_them(rendered: list[dict[str, Any]]) -> None:
    [kafka] = of_kind(rendered, "Kafka")
    bus = find(rendered, "ConfigMap", "ipshare-bus")["data"]
    [plain] = [listener for listener in kafka["spec"]["kafka"]["listeners"] if not listener["tls"]]
    assert bus["KAFKA_BOOTSTRAP_SERVERS"] == f"{kafka['metadata']['name']}-kafka-bootstrap:{plain['port']}"
    topics = {t["spec"]["topicName"]: t for t in of_kind(rendered, "KafkaTopic")}
    assert set(topics) == {topic_of(s) for s in SERVICES} | {dead_letter_topic_of(s) for s in SERVICES}
    for name, component in COMPONENTS.items():
        if component.spec is not None:
            for projection in component.spec.projections(Runtime(component.spec)):
                assert set(projection.topics) <= set(topics), f"{name} consumes an undeclared topic"
    brokers = sum(pool["spec"]["replicas"] for pool in of_kind(rendered, "KafkaNodePool")
                  if "broker" in pool["spec"]["roles"])  # fmt: skip
    for name, topic in topics.items():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert topic["spec"]["partitions"] == int(bus["TOPIC_PARTITIONS"]), name
        assert topic["spec"]["replicas"] == int(bus["TOPIC_REPLICATION_FACTOR"]) <= brokers, name
        assert topic["spec"]["config"]["min.insync.replicas"] < topic["spec"]["replicas"], "one broker may be down"


def test_databases_are_the_services_own_on_the_one_cluster(rendered: list[dict[str, Any]]) -> None:
    [cluster] = of_kind(rendered, "Cluster")
    databases = of_kind(rendered, "Database")
    assert {d["spec"]["name"] for d in databases} == {f"ipshare_{s.replace('-', '_')}" for s in SERVICES}
    assert {d["spec"]["cluster"]["name"] for d in databases} == {cluster["metadata"]["name"]}
    assert {d["spec"]["owner"] for d in databases} == {cluster["spec"]["bootstrap"]["initdb"]["owner"]}


def test_connection_pools_fit_max_connections_during_a_rolling_update(rendered: list[dict[str, Any]]) -> None:
    [cluster] = of_kind(rendered, "Cluster")
    available = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"]) - SUPERUSER_RESERVED_CONNECTIONS
    opened = {}
    for name in SERVICES:
        deployment = find(rendered, "Deployment", name)
        pods = deployment["spec"]["replicas"] + deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
        env = {key.lower(): value for key, value in environment(rendered, name).items()}
        settings = COMPONENTS[name].settings(**env)
        assert isinstance(settings, ServiceSettings)
        opened[name] = pods * settings.database_connections()
    assert sum(opened.values()) <= available, f"pools open up to {opened} = {sum(opened.values())} > {available}"


def test_the_renderer_merges_patches_as_kustomize_does() -> None:
    base = {"spec": {"containers": [{"name": "a", "image": "x:1", "resources": {"limits": {"memory": "1Gi"}}}]}}
    patch = {"spec": {"containers": [{"name": "a", "resources": {"limits": {"memory": "2Gi"}}}, {"name": "b"}]}}
    assert merged(base, patch) == {"spec": {"containers": [
        {"name": "a", "image": "x:1", "resources": {"limits": {"memory": "2Gi"}}}, {"name": "b"},
    ]}}  # fmt: skip
    production = render(DEPLOY / "overlays" / "production")
    assert container_of(production, "revenue-share")["resources"]["limits"]["memory"] == "3Gi"
    assert find(production, "Deployment", "console")["spec"]["replicas"] == 3
    assert {r["metadata"]["namespace"] for r in production} == {"ipshare"}


def test_the_console_is_reached_over_https_through_its_ingress(rendered: list[dict[str, Any]]) -> None:
    [ingress] = of_kind(rendered, "Ingress")
    service = find(rendered, "Service", "console")
    served = {port["name"] for port in service["spec"]["ports"]} | {port["port"] for port in service["spec"]["ports"]}
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts, "the ingress names the console's host"
    covered = {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}
    assert set(hosts) <= covered, f"{set(hosts) - covered} would be served without TLS"
    assert all(tls["secretName"] for tls in ingress["spec"]["tls"]), "each TLS entry names its certificate's Secret"
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "console"
            assert backend["port"].get("name", backend["port"].get("number")) in served
    settings = ConsoleSettings(**{key.lower(): value for key, value in environment(rendered, "console").items()})
    assert settings.console_secure_cookies, "the session cookie goes only over the ingress's HTTPS"
    public = urlsplit(settings.console_public_url)
    assert (public.scheme, public.hostname) == ("https", hosts[0]), "the provider redirects back to the ingress"
    assert settings.provider_sign_in
    assert not settings.local_sign_in


def test_each_overlay_serves_the_console_at_its_own_host() -> None:
    hosts = {path.name: find(render(path), "Ingress", "console")["spec"]["rules"][0]["host"] for path in KUSTOMIZATIONS}
    assert hosts["staging"] != hosts["production"]
