"""The deployment files name every service of the choreography: a new participant that is
missing from one of them fails here, not on the first `make up`."""

import re
import tomllib
from pathlib import Path

import yaml

from participants import SERVICES
from shared.settings import DEFAULT_HTTP_PORTS

ROOT = Path(__file__).parents[2]
NAMES = [service.name for service in SERVICES]


def _yaml(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def test_compose_runs_every_service_with_its_own_database_and_allows_its_host_name():
    compose = _yaml("docker-compose.yml")
    for name in NAMES:
        container = compose["services"][name.replace("_", "-")]
        assert container["command"] == [name.replace("_", "-")]
        assert container["environment"]["SAGA_DATABASE_PATH"] == f"/data/{name}.db"
        assert name.replace("_", "-") in compose["x-service-env"]["SAGA_HTTP_ALLOWED_HOSTS"]


def test_the_secure_overlay_runs_every_service_as_its_own_principal():
    secure = _yaml("docker-compose.secure.yml")
    for name in NAMES:
        environment = secure["services"][name.replace("_", "-")]["environment"]
        assert environment["SAGA_KAFKA_USERNAME"] == name
        assert f"{name}_password" in secure["secrets"]


def test_prometheus_scrapes_every_service_and_every_service_has_a_default_port():
    [services] = [job for job in _yaml("deploy/prometheus.yml")["scrape_configs"]
                  if job["job_name"] == "services"]
    targets = services["static_configs"][0]["targets"]
    assert sorted(targets) == sorted(f"{name.replace('_', '-')}:8000" for name in NAMES)
    assert set(NAMES) < set(DEFAULT_HTTP_PORTS)


def test_the_image_holds_every_package_the_project_installs():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), re.M))
    assert {package.split(".")[0] for package in packages} - copied == set()
