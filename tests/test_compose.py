"""docker-compose.yml cannot run here (no Docker engine); check it names what the code names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from commercialization.entrypoints.main import CommercializationSettings
from console.settings import ConsoleSettings
from incubation.entrypoints.main import IncubationSettings
from ip_registry.entrypoints.main import IpRegistrySettings
from ipshare.database import database_name
from ipshare.settings import ServiceSettings
from ipshare_devtools.stack import Stack, StackSettings
from revenue_share.settings import RevenueShareSettings

ROOT = Path(__file__).resolve().parents[1]

SERVICE_SETTINGS: dict[str, type[ServiceSettings]] = {
    "ip-registry": IpRegistrySettings,
    "commercialization": CommercializationSettings,
    "incubation": IncubationSettings,
    "revenue-share": RevenueShareSettings,
}
SUPERUSER_RESERVED_CONNECTIONS = 3  # PostgreSQL's default: kept for an administrator's psql


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_runs_the_same_four_services_on_the_same_ports() -> None:
    services = compose()["services"]
    for service in StackSettings().services():
        spec = services[service.name]
        env = spec["environment"]
        assert env["HTTP_PORT"] == str(service.http_port)
        assert env["GRPC_PORT"] == str(service.grpc_port)
        assert f"{service.http_port}:{service.http_port}" in spec["ports"]
        assert database_name(env["DATABASE_URL"]) == f"ipshare_{service.package}"
        assert spec["build"]["args"] == {"SERVICE": service.name, "PACKAGE": service.package}
    assert {"postgres", "kafka"} <= set(services)


def test_compose_sets_every_setting_the_embedded_stack_sets_and_only_known_ones() -> None:
    stack = Stack(StackSettings())
    stack.database_url, stack.bootstrap_servers = "postgresql://u@h/db", "k:9092"
    [first, *_] = StackSettings().services()
    stack_keys = set(stack.service_env(first))
    for name, settings_class in SERVICE_SETTINGS.items():
        known = {field.upper() for field in settings_class.model_fields} | stack_keys
        env = set(compose()["services"][name]["environment"])
        assert stack_keys <= env, f"{name} lacks {stack_keys - env}"
        assert env <= known, f"{name} sets unknown settings {env - known}"


def test_compose_turns_on_what_apache_kafka_supports() -> None:
    env = compose()["services"]["ip-registry"]["environment"]
    assert env["KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    assert compose()["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_compose_runs_the_console_with_the_settings_the_embedded_stack_gives_it() -> None:
    stack = Stack(StackSettings())
    spec = compose()["services"]["console"]
    env = spec["environment"]
    assert set(stack.console_env()) <= set(env), f"the console lacks {set(stack.console_env()) - set(env)}"
    assert set(env) <= {name.upper() for name in ConsoleSettings.model_fields}, "unknown console settings"
    assert env["HTTP_PORT"] == str(StackSettings().console_http_port)
    assert f"{env['HTTP_PORT']}:{env['HTTP_PORT']}" in spec["ports"]
    assert spec["build"]["args"] == {"SERVICE": "console", "PACKAGE": "console"}


def postgres_max_connections(spec: dict[str, Any]) -> int:
    """`-c max_connections=N` from the server's command, else PostgreSQL's default of 100."""
    command = spec.get("command", [])
    found = [int(arg.split("=", 1)[1]) for arg in command if arg.startswith("max_connections=")]
    return found[-1] if found else 100


def test_compose_connection_pools_fit_postgres_max_connections() -> None:
    services = compose()["services"]
    opened = {
        name: settings_class(**{k.lower(): v for k, v in services[name]["environment"].items()}).database_connections()
        for name, settings_class in SERVICE_SETTINGS.items()
    }
    available = postgres_max_connections(services["postgres"]) - SUPERUSER_RESERVED_CONNECTIONS
    assert sum(opened.values()) <= available, f"pools open up to {opened} = {sum(opened.values())} > {available}"


def test_compose_keeps_kafka_data_on_its_volume() -> None:
    kafka = compose()["services"]["kafka"]
    [volume] = kafka["volumes"]
    mount = volume.split(":")[1]
    log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"].split(",")
    assert log_dirs
    assert all(Path(d).is_relative_to(mount) for d in log_dirs), (log_dirs, mount)


def test_compose_checks_every_service_on_its_readiness_route_and_waits_for_it() -> None:
    services = compose()["services"]
    for name in [*SERVICE_SETTINGS, "console"]:
        spec = services[name]
        probe = " ".join(spec["healthcheck"]["test"])
        assert f"127.0.0.1:{spec['environment']['HTTP_PORT']}/healthz" in probe, f"{name}: {probe}"
    console_needs = services["console"]["depends_on"]
    assert {name: {"condition": "service_healthy"} for name in SERVICE_SETTINGS} == console_needs


def test_compose_requires_each_audit_signing_key() -> None:
    for name in SERVICE_SETTINGS:
        value = compose()["services"][name]["environment"]["AUDIT_SIGNING_KEY"]
        assert value.startswith("${"), f"{name} sets its key in the file: {value}"
        assert ":?" in value, f"{name} falls back to a development key: {value}"
