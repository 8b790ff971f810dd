"""The generated app JSON against the classic format's rules, and its data
paths against what the connector really returns."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector import __version__
from connector.hashes import HASH_TYPES
from connector_tools.docs import render
from connector_tools.soar.app_json import APP_JSON
from connector_tools.soar.docs import SECTIONS

from .soar_support import ASSET, absent_sha1

SOAR_PAGE = Path(__file__).resolve().parents[2] / "docs" / "soar.md"
TOP_LEVEL = (
    "appid",
    "name",
    "description",
    "type",
    "product_vendor",
    "product_name",
    "product_version_regex",
    "publisher",
    "license",
    "app_version",
    "package_name",
    "main_module",
    "min_phantom_version",
    "python_version",
    "logo",
    "configuration",
    "actions",
)
ACTION_KEYS = ("action", "identifier", "description", "type", "read_only", "parameters", "output", "versions")
DATA_TYPES = {"string", "numeric", "boolean", "password"}


@pytest.fixture(scope="module")
def app(app_dir) -> dict[str, Any]:
    return json.loads((app_dir / APP_JSON).read_text())


def lookups(app: dict[str, Any]) -> Iterator[dict[str, Any]]:
    return (spec for spec in app["actions"] if spec["type"] == "investigate")


def test_top_level_follows_the_classic_format(app, app_dir):
    assert [key for key in TOP_LEVEL if key not in app] == []
    appid = uuid.UUID(app["appid"])
    assert appid.version == 4 and str(appid) == app["appid"]
    assert app["type"] == "reputation"
    assert app["app_version"] == __version__
    assert (app_dir / app["main_module"]).is_file()
    assert (app_dir / app["logo"]).is_file() and (app_dir / app["logo_dark"]).is_file()
    assert app["package_name"].startswith("phantom_")


def test_configuration_keeps_the_token_secret(app):
    settings = app["configuration"]
    assert settings["token"]["data_type"] == "password" and "default" not in settings["token"]
    assert settings["verify_tls"] == {**settings["verify_tls"], "data_type": "boolean", "default": True}
    assert all(spec["data_type"] in DATA_TYPES and spec["description"] for spec in settings.values())
    assert sorted(spec["order"] for spec in settings.values()) == list(range(len(settings)))


def test_actions_follow_the_classic_format(app):
    assert [spec["identifier"] for spec in app["actions"]] == [
        "get_report",
        "get_summary",
        "file_reputation",
        "test_connectivity",
        "clear_cache",
    ]
    for spec in app["actions"]:
        assert [key for key in ACTION_KEYS if key not in spec] == [], spec["identifier"]
        paths = [output["data_path"] for output in spec["output"]]
        assert len(paths) == len(set(paths)), spec["identifier"]
        assert all(output["data_type"] in DATA_TYPES for output in spec["output"])
    connectivity, clear = app["actions"][-2:]
    assert (connectivity["type"], connectivity["parameters"], connectivity["output"]) == ("test", {}, [])
    assert (clear["type"], clear["read_only"], clear["parameters"]) == ("generic", False, {})
    assert {"action_result.summary.cleared", "action_result.summary.cache_entries"} <= declared(clear)


def test_hash_parameter_puts_the_actions_on_a_hash_menu(app):
    for spec in lookups(app):
        name = "hash" if spec["identifier"] == "file_reputation" else "hashes"
        hashes = spec["parameters"][name]
        assert hashes["primary"] is True and hashes["required"] is True
        assert set(hashes["contains"]) == {"hash", *HASH_TYPES}
        assert [name for name, param in spec["parameters"].items() if param.get("primary")] == [name]
        assert name == "hash" or spec["parameters"]["skip_reanalysis"]["default"] is True
        columns = sorted(
            (output["column_order"], output["column_name"]) for output in spec["output"] if "column_name" in output
        )
        assert [order for order, _ in columns] == list(range(len(columns)))


def declared(spec: dict[str, Any]) -> set[str]:
    return {output["data_path"] for output in spec["output"]}


def paths_of(value: Any, prefix: str) -> Iterator[str]:
    """The data paths of a value as SOAR spells them: ``.*`` over lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_of(item, f"{prefix}.{key}")
    elif isinstance(value, list):
        yield f"{prefix}.*"
    else:
        yield prefix


@pytest.mark.parametrize("action", ["get report", "get summary", "file reputation"])
def test_data_paths_match_real_results_both_ways(soar, app, corpus, action):
    """Every declared path is in every real result and item, and every field of
    a real result is declared."""
    values = [corpus.samples[0]["sha1"], corpus.hashes("sha256", "goodware")[0], absent_sha1(1), "typo"]
    key = "hash" if action == "file reputation" else "hashes"
    run = soar.run_action(ASSET, action, [{key: ",".join(values)}, {key: values[0]}])
    spec = next(spec for spec in app["actions"] if spec["action"] == action)
    wanted = declared(spec)
    for result in run["action_results"]:
        found = {"action_result.status", "action_result.message"}
        found |= set(paths_of(result["parameter"], "action_result.parameter"))
        found |= set(paths_of(result["summary"], "action_result.summary"))
        found |= set(paths_of(run["summary"], "summary"))
        for item in result["data"]:
            assert {path for path in wanted if path.startswith("action_result.data.*.")} == set(
                paths_of(item, "action_result.data.*")
            ), item["status"]
        assert {path for path in wanted if not path.startswith("action_result.data.")} == found


def test_docs_carry_the_generated_reference():
    text = SOAR_PAGE.read_text(encoding="utf-8")
    assert render(text, SECTIONS) == text, (
        "docs/soar.md's SOAR reference is stale: run python -m connector_tools.soar.docs"
    )
    assert "`action_result.data.*.threat_name`" in text and "`action_result.data.*.verdict.label`" in text


def test_every_output_of_a_hash_is_typed_with_contains(app):
    """A hash in any output carries its contains types, so SOAR offers hash actions on it."""
    for spec in app["actions"]:
        for output in spec["output"]:
            field = output["data_path"].rsplit(".", 1)[-1]
            if field in ("hash", *HASH_TYPES):
                assert "hash" in output["contains"], output["data_path"]
