"""The built SOAR app checked by Splunk's own code, splunk-soar-sdk (in
``.venv-soarsdk``, Python 3.13, which ``make test`` sets up): its manifest
models take the app JSON, ``soarapps convert`` converts the app, and the app's
connector runs every action on the SDK's ``phantom`` shims with only the
app's bundled wheels, against the simulator. The harness
(``sdk_harness.py``) names the two gaps of the shims that it fills.

What the SDK has no counterpart for stays the team's stand-in: the playbook
API (``tests/soar/standin/phantom/rules.py``) and the platform that runs
playbooks (``soar_platform.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from connector_tools.soar.app_json import APP_JSON
from connector_tools.soar.build import APP_FOLDER

from .soar_support import TOKEN, absent_sha1, assert_secret_kept

pytestmark = pytest.mark.slow  # the built app, checked by the SDK in a process of its own

ROOT = Path(__file__).resolve().parents[2]
SDK_PYTHON = ROOT / ".venv-soarsdk" / "bin" / "python"
HARNESS = Path(__file__).resolve().with_name("sdk_harness.py")


def sdk(*arguments: str, stdin: str = "", timeout: int = 300, **kwargs: Any) -> subprocess.CompletedProcess:
    assert SDK_PYTHON.is_file(), "the SDK's venv is missing: make .venv-soarsdk/.installed"
    return subprocess.run(
        [str(SDK_PYTHON), *arguments], input=stdin, capture_output=True, text=True, timeout=timeout, **kwargs
    )


@pytest.fixture(scope="module")
def built_app(soar_package, tmp_path_factory) -> Path:
    """The app folder of the built .tgz, as SOAR unpacks it."""
    target = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(soar_package) as archive:
        archive.extractall(target)
    return target / APP_FOLDER


@pytest.fixture(scope="module")
def app(built_app) -> dict[str, Any]:
    return json.loads((built_app / APP_JSON).read_text())


def test_the_sdks_manifest_models_take_the_app_json(built_app, app, tmp_path):
    copy = tmp_path / APP_JSON
    copy.write_text((built_app / APP_JSON).read_text())
    completed = sdk(str(HARNESS), "manifest", str(copy))
    assert completed.returncode == 0, completed.stderr[-3000:]
    checked = json.loads(completed.stdout)
    # Only the two excused constraints fail as the app is, each for its stated reason.
    assert [error for error in checked["errors"] if not error["excused"]] == []
    assert {error["excused"].split(";")[0] for error in checked["errors"]} == {
        "the SDK's apps run on Python 3.13 only",
        "the SDK requires a category on every asset field",
    }
    assert len([error for error in checked["errors"] if error["loc"][0] == "configuration"]) == len(
        app["configuration"]
    )
    # What the SDK's models read back is the app JSON's: actions, parameters, contains, data paths.
    assert list(checked["actions"]) == [spec["identifier"] for spec in app["actions"]]
    for spec in app["actions"]:
        read = checked["actions"][spec["identifier"]]
        assert read["type"] == spec["type"] and read["read_only"] == spec["read_only"]
        for name, param in spec["parameters"].items():
            assert read["parameters"][name]["contains"] == param.get("contains"), (spec["identifier"], name)
        # The SDK keeps a result's data items and parameters as outputs (it models summaries apart).
        declared = {
            output["data_path"]: output.get("contains")
            for output in spec["output"]
            if output["data_path"].startswith(("action_result.data.", "action_result.parameter."))
        }
        assert {path: value["contains"] for path, value in read["data_paths"].items() if path in declared} == declared
    assert checked["actions"]["file_reputation"]["parameters"]["hash"]["primary"] is True
    assert "action_result.data.*.verdict.label" in checked["actions"]["file_reputation"]["data_paths"]
    assert checked["custom_views"] == ["get_report", "get_summary", "file_reputation"]


def test_soarapps_convert_converts_the_built_app(built_app, app, tmp_path):
    """``soarapps convert`` on the built app, with the excused constraints met
    (as in the test above). It sets up the new app's project with uv; the
    project it writes names the index pypi.python.org, so this machine's
    reachable index is named too."""
    source = tmp_path / APP_FOLDER
    subprocess.run(["cp", "-r", str(built_app), str(source)], check=True)
    met = dict(
        app,
        python_version="3.13",
        configuration={name: dict(field, category="connectivity") for name, field in app["configuration"].items()},
    )
    (source / APP_JSON).write_text(json.dumps(met))
    bin_dir = str(SDK_PYTHON.parent)
    environ = dict(
        os.environ,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        UV_PYTHON_DOWNLOADS="never",
        UV_PYTHON=str(Path(os.path.realpath(SDK_PYTHON))),
        UV_INDEX="https://pypi.org/simple",
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    converted = tmp_path / "converted"
    completed = subprocess.run(
        [f"{bin_dir}/soarapps", "convert", str(source), str(converted)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-4000:]
    assert "Successfully created app" in completed.stdout
    code = (converted / "src" / "app.py").read_text()
    for spec in app["actions"]:
        if spec["identifier"] != "test_connectivity":
            assert f"def {spec['identifier']}(" in code, spec["identifier"]
    assert 'cef_types=["hash", "md5", "sha1", "sha256", "sha512"]' in code.replace("'", '"')
    assert "verdict_high_riskscore" in code


@pytest.fixture(scope="module")
def sdk_runs(built_app, app, shared_simulator, corpus, tmp_path_factory) -> dict[str, Any]:
    """Every action run on the SDK's shims in one fresh 3.13 interpreter whose
    path holds only the app folder, the app's 3.13 wheels and the SDK."""
    site = subprocess.run(
        [str(SDK_PYTHON), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    wheels = [str(built_app / entry["input_file"]) for entry in app["pip313_dependencies"]["wheel"]]
    asset = {
        "url": shared_simulator.url,
        "token": TOKEN,
        "verify_tls": True,
        "batch_size": 100.0,
        "max_attempts": 2.0,
        "cache": True,
        "verdict_high_riskscore": 7.0,
        "verdict_medium_riskscore": 6.0,
    }
    hashes = [
        corpus.samples[0]["sha1"],
        corpus.hashes("sha256", "suspicious")[0],
        corpus.hashes("md5", "goodware")[0],
        absent_sha1(5),
        "typo",
    ]

    def action(identifier: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "identifier": identifier,
            "action": identifier.replace("_", " "),
            "config": asset,
            "parameters": parameters,
            "asset_id": "1",
        }

    actions = [
        ("test_connectivity", action("test_connectivity", [])),
        ("get_report", action("get_report", [{"hashes": ",".join(hashes)}])),
        ("get_summary", action("get_summary", [{"hashes": hashes[0]}])),
        ("file_reputation", action("file_reputation", [{"hash": value} for value in hashes])),
        ("test_connectivity_cached", action("test_connectivity", [])),
        ("clear_cache", action("clear_cache", [])),
        ("test_connectivity_cleared", action("test_connectivity", [])),
    ]
    spec = {
        "path": [str(built_app), *wheels, site],
        "app_dir": str(built_app),
        "app_json": APP_JSON,
        "actions": actions,
    }
    completed = subprocess.run(
        [str(SDK_PYTHON), "-I", "-S", str(HARNESS), "run"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PHANTOM_HOME=str(tmp_path_factory.mktemp("phantom-home"))),
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert_secret_kept(completed.stdout + completed.stderr, TOKEN)
    return json.loads(completed.stdout)


def test_the_connector_runs_on_the_sdks_shims_with_only_its_wheels(built_app, app, sdk_runs):
    modules = sdk_runs["modules"]
    assert modules["connector"].startswith(str(built_app))
    assert modules["fastjsonschema"].startswith(str(built_app / "wheels"))  # imported from the bundled wheel
    assert "/soar_sdk/shims/phantom/" in modules["phantom.base_connector"]
    assert set(sdk_runs["runs"]) >= {spec["identifier"] for spec in app["actions"]}


def test_every_action_on_the_sdks_shims(sdk_runs, corpus):
    runs = sdk_runs["runs"]
    [check] = runs["test_connectivity"]["results"]
    assert check["status"] is True and "accepted the API token" in check["message"]
    assert check["summary"] == {"cache_entries": 0}

    [report] = runs["get_report"]["results"]
    assert [item["status"] for item in report["data"]] == ["found", "found", "found", "not_found", "invalid"]
    assert report["summary"]["by_classification"]["malicious"] == 1 and report["status"] is True

    [summary] = runs["get_summary"]["results"]
    assert summary["data"][0]["indicator_count"] is not None or summary["data"][0]["indicators"] == []

    reputation = runs["file_reputation"]["results"]
    assert [result["data"][0]["verdict"]["label"] for result in reputation] == [
        "high",
        "medium",
        "low",
        "unknown",
        None,
    ]
    assert [result["status"] for result in reputation] == [True, True, True, True, True]
    assert reputation[0]["summary"]["verdict_label"] == "high"

    [cached] = runs["test_connectivity_cached"]["results"]
    assert cached["summary"]["cache_entries"] > 0
    [cleared] = runs["clear_cache"]["results"]
    assert cleared["status"] is True and cleared["summary"]["cleared"] == cached["summary"]["cache_entries"]
    [after] = runs["test_connectivity_cleared"]["results"]
    assert after["summary"] == {"cache_entries": 0}
