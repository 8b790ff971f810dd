"""The package as pip installs it, the schemas, and the one version number."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from checkout import pip_install_checkout

import connector
from connector.validation import schema_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``pip install .`` into a folder of its own (not editable)."""
    target = tmp_path_factory.mktemp("site")
    pip_install_checkout(target)
    return target


@pytest.mark.slow
@pytest.mark.xdist_group("pip-installs-the-checkout")  # see test_splunk_package.py
def test_an_installed_package_finds_its_schemas(installed, tmp_path):
    probe = (
        "import connector, connector.validation as v, connector.actions as a;"
        "print(connector.__file__); print(v.schema_dir()); print(len(a.SUPPORTED_FIELDS))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(installed)},
        check=True,
    )
    module, schemas, fields = done.stdout.split()
    assert module.startswith(str(installed)) and schemas == str(installed / "connector" / "schemas")
    assert fields == "32"
    assert {path.name for path in (installed / "connector" / "schemas").glob("*.json")} == {
        path.name for path in (ROOT / "schemas").glob("*.json")
    }


def test_the_console_script_is_declared():
    assert "spectra-connector = connector.cli:main" in (ROOT / "setup.cfg").read_text()


@pytest.mark.parametrize("path", sorted((ROOT / "schemas").glob("*.json")), ids=lambda p: p.name)
def test_every_schema_is_a_valid_draft_7_schema(path):
    jsonschema.Draft7Validator.check_schema(json.loads(path.read_text()))


def test_one_version_number():
    manifest = json.loads((ROOT / "package.json").read_text())
    assert manifest["version"] == connector.__version__


def test_a_checkout_reads_the_top_level_schemas():
    assert schema_dir() in (ROOT / "schemas", Path(connector.__file__).parent / "schemas")
