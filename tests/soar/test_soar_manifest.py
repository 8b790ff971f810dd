"""package.json: valid against its schema, and true to the code it describes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from connector import __version__
from connector.actions import ACTIONS
from connector.config import CacheSettings, Config
from connector.errors import SpectraAnalyzeError
from connector.manifest import load_manifest, schema_of
from connector.validation import load_schema, violation
from connector.verdict import Thresholds
from connector_tools.soar.app_json import configuration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def manifest():
    return json.loads((ROOT / "package.json").read_text())


def test_package_json_is_valid_for_both_validators(manifest):
    jsonschema.Draft7Validator.check_schema(load_schema("package"))
    jsonschema.validate(manifest, load_schema("package"))
    assert violation("package", manifest) == ""
    assert load_manifest() == manifest


def test_schema_rejects_a_bad_soar_section(manifest):
    assert violation("package", dict(manifest, soar=dict(manifest["soar"], appid="not-a-uuid")))


def test_a_broken_manifest_is_a_clear_error(tmp_path, monkeypatch, manifest):
    import connector.manifest as module

    broken = tmp_path / "package.json"
    broken.write_text(json.dumps(dict(manifest, version="one")))
    monkeypatch.setattr(module, "_MANIFEST", broken)
    load_manifest.cache_clear()
    try:
        with pytest.raises(SpectraAnalyzeError, match="version"):
            load_manifest()
    finally:
        load_manifest.cache_clear()


def test_version_and_actions_are_the_packages_own(manifest):
    assert manifest["version"] == __version__
    assert list(manifest["actions"]) == list(ACTIONS)
    for spec in manifest["actions"].values():
        for key in ("parameters", "output", "summary", "verdict"):
            declared = spec.get(key) or []
            for reference in declared if isinstance(declared, list) else [declared]:
                assert (ROOT / reference).is_file()
                assert schema_of(reference) == load_schema(Path(reference).name[: -len(".schema.json")])


def test_the_asset_defaults_are_the_configs_defaults():
    settings = configuration()
    config = Config.from_settings({"url": "https://appliance.example.com", "token": "t"})
    effective = {
        "verify_tls": config.verify_tls,
        "connect_timeout": config.connect_timeout,
        "read_timeout": config.read_timeout,
        "batch_size": config.batch_size,
        "max_connections": config.max_connections,
        "max_attempts": config.retry.max_attempts,
        "retry_deadline": config.retry.deadline,
    }
    cache = CacheSettings(directory="state")
    effective.update(
        cache=True, cache_ttl=cache.ttl, cache_not_found_ttl=cache.not_found_ttl, cache_max_entries=cache.max_entries
    )
    thresholds = Thresholds()
    effective.update(verdict_high_riskscore=thresholds.high, verdict_medium_riskscore=thresholds.medium)
    assert {name: spec["default"] for name, spec in settings.items() if "default" in spec} == effective
    assert [name for name, spec in settings.items() if spec.get("required")] == ["url", "token"]
    assert [name for name, spec in settings.items() if spec["data_type"] == "password"] == ["token"]
