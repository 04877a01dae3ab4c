"""docker-compose.yml cannot run here (no Docker engine); check it names what the code names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from console.settings import ConsoleSettings
from ipshare.database import database_name
from ipshare.settings import ServiceSettings
from ipshare_devtools.stack import Stack, StackSettings

ROOT = Path(__file__).resolve().parents[1]


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
    known = {name.upper() for name in ServiceSettings.model_fields} | stack_keys
    for name in ("ip-registry", "commercialization", "incubation", "revenue-share"):
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
