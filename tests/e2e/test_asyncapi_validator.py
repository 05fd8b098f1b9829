"""docs/asyncapi.yaml passes the official AsyncAPI parser (node), and that parser does refuse a
broken document: more than a YAML load. Skipped, in one line, where node or npm is missing."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
VALIDATOR = ROOT / "devtools" / "asyncapi" / "validate.mjs"


@pytest.fixture(scope="module")
def validate():
    missing = [tool for tool in ("node", "npm", "make") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"no {' or '.join(missing)} here: the AsyncAPI validator cannot run")
    # The pinned packages (devtools/asyncapi/package-lock.json), installed once, as in CI.
    installed = subprocess.run(["make", "-s", "devtools/asyncapi/node_modules/.package-lock.json"],
                               cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    def run(*documents: Path) -> subprocess.CompletedProcess:
        return subprocess.run(["node", str(VALIDATOR), *map(str, documents)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
    return run


def test_the_official_asyncapi_parser_finds_docs_asyncapi_yaml_valid(validate):
    ran = validate(ROOT / "docs" / "asyncapi.yaml")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "valid AsyncAPI 3.0.0" in ran.stdout


def _broken(tmp_path: Path, name: str, breaking) -> Path:
    document = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    breaking(document)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_the_validator_refuses_a_dangling_reference_and_an_example_its_schema_rejects(
        validate, tmp_path):
    def dangle(document):
        operation = document["operations"]["payment_service.receives.StockReserved"]
        operation["messages"][0]["$ref"] = "#/channels/StockReserved/messages/Nothing"

    def quantity_as_text(document):
        example = document["components"]["messages"]["StockAdded"]["examples"][0]["payload"]
        example["payload"]["quantity"] = "100"

    ran = validate(_broken(tmp_path, "dangling", dangle),
                   _broken(tmp_path, "example", quantity_as_text))
    assert ran.returncode == 1
    assert "invalid-ref at operations.payment_service.receives.StockReserved" in ran.stdout
    assert "example example of message StockAdded: /payload/quantity must be integer" in ran.stdout
    assert ran.stdout.count(": invalid (1 errors or warnings)") == 2
