"""The Splunk app package as Splunk (and AppInspect) receives it."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from connector import __version__
from connector_tools.packaging import read_pins
from connector_tools.splunk.build import APP_SOURCE, PINS_FILE
from connector.flatten import RECORD_KEYS
from connector.splunk.conf import APPLIANCE_KEYS, COMMAND_KEYS, parse_conf
from connector.splunk.options import ACTIONS
from splunk_harness import APP_ID, build_package

pytestmark = pytest.mark.slow  # every test here starts a process

ROOT = Path(__file__).resolve().parent.parent
APPINSPECT = ROOT / ".venv-appinspect" / "bin" / "splunk-appinspect"


@pytest.fixture(scope="module")
def members(splunk_package):
    with tarfile.open(splunk_package) as archive:
        return {member.name: member for member in archive.getmembers()}


def test_package_name_and_layout(splunk_package, members):
    assert splunk_package.name == f"{APP_ID}-{__version__}.tgz"
    assert all(name == APP_ID or name.startswith(APP_ID + "/") for name in members)
    source_files = {f"{APP_ID}/{path.relative_to(APP_SOURCE).as_posix()}" for path in APP_SOURCE.rglob("*")
                    if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")}
    assert source_files <= set(members)  # every file of the app tree ships, as it is


def test_package_is_pure_python_and_clean(members):
    names = list(members)
    assert not [name for name in names if name.endswith((".so", ".pyd", ".dll", ".dylib"))]
    assert not [name for name in names if name.endswith(".pyc") or "__pycache__" in name]
    assert not [name for name in names if name.startswith(f"{APP_ID}/local")]
    assert {member.mode for member in members.values() if member.isfile()} == {0o644}
    assert {member.mode for member in members.values() if member.isdir()} == {0o755}


def test_package_vendors_the_pinned_releases_and_the_connector(members):
    lib = f"{APP_ID}/bin/lib/"
    for pin in read_pins(PINS_FILE):
        dist = re.sub(r"[-_.]+", "_", pin.name).lower()
        assert any(name.lower().startswith(f"{lib}{dist}-{pin.version}.dist-info/") for name in members), pin
    assert f"{lib}splunklib/searchcommands/streaming_command.py" in members
    assert not [name for name in members if name.startswith(f"{lib}splunklib/ai")]  # Python 3.13 only
    for schema in ("record", "response", "result-item", "action-parameters"):
        assert f"{lib}connector/schemas/{schema}.schema.json" in members
    assert f"{lib}connector/splunk/command.py" in members
    assert not [name for name in members if name.startswith((f"{lib}connector/cli/", f"{lib}connector/simulator/",
                                                             f"{lib}connector/splunk/app/", f"{lib}connector/splunk/build"))]


def test_build_is_reproducible(splunk_package, tmp_path):
    assert build_package(tmp_path).read_bytes() == splunk_package.read_bytes()


# pip builds the checkout in its build/ folder: one such install at a time, on one worker.
@pytest.mark.xdist_group("pip-installs-the-checkout")
def test_an_installed_package_builds_the_same_app(splunk_package, tmp_path):
    """The app tree and the pins are package data: pip-installed (not
    editable), the package builds the very same .tgz."""
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    done = subprocess.run([sys.executable, "-c", "import sys; from connector.cli import main; sys.exit(main())",
                           "build-splunk-app", "--output", str(tmp_path / "out")], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(site), "HOME": str(Path.home())}, timeout=300)
    assert done.returncode == 0, done.stderr
    built = Path(done.stdout.strip().splitlines()[-1])
    assert built.read_bytes() == splunk_package.read_bytes()


def test_app_files_agree_with_the_code():
    app_conf = parse_conf((APP_SOURCE / "default" / "app.conf").read_text())
    manifest = json.loads((APP_SOURCE / "app.manifest").read_text())
    assert app_conf["id"]["name"] == app_conf["package"]["id"] == manifest["info"]["id"]["name"] == APP_ID
    spec = parse_conf("\n".join(line for line in (APP_SOURCE / "README" / "spectra_analyze.conf.spec").read_text()
                                .splitlines() if not line.startswith("*")))
    assert tuple(spec["appliance"]) == APPLIANCE_KEYS and tuple(spec["command"]) == COMMAND_KEYS
    defaults = parse_conf((APP_SOURCE / "default" / "spectra_analyze.conf").read_text())
    assert tuple(defaults["appliance"]) == APPLIANCE_KEYS and tuple(defaults["command"]) == COMMAND_KEYS
    syntax = parse_conf((APP_SOURCE / "default" / "searchbnf.conf").read_text())["spectraanalyze-command"]["syntax"]
    assert f"action=({'|'.join(ACTIONS)})" in syntax


def test_appinspect_cloud_precert_has_no_failures_and_explained_warnings(splunk_package, tmp_path):
    if not APPINSPECT.exists():
        pytest.fail(f"{APPINSPECT} is missing: run `make test`, which installs splunk-appinspect there")
    report = tmp_path / "appinspect.json"
    done = subprocess.run([str(APPINSPECT), "inspect", str(splunk_package), "--mode", "precert", "--included-tags",
                           "cloud", "--skip-trusted-libraries-update", "--data-format", "json", "--output-file",
                           str(report)], capture_output=True, text=True, timeout=300)
    assert report.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads(report.read_text())
    summary = results["summary"]
    assert (summary["error"], summary["failure"], summary["future_failure"]) == (0, 0, 0), summary
    warned = {check["name"] for group in results["reports"][0]["groups"] for check in group["checks"]
              if check["result"] == "warning"}
    readme = (APP_SOURCE / "README.md").read_text()
    assert [name for name in sorted(warned) if f"`{name}`" not in readme] == []  # each one explained


def test_the_app_readme_is_the_one_splunk_reference(members, splunk_package):
    """The app's README.md ships in the package as it is, with every option
    and every output field of the schema; docs/splunk.md points at it
    rather than copying it."""
    app_readme = (APP_SOURCE / "README.md").read_text()
    with tarfile.open(splunk_package) as archive:
        assert archive.extractfile(members[f"{APP_ID}/README.md"]).read().decode() == app_readme
    for key in RECORD_KEYS:
        assert f"`rl_{key}`" in app_readme, key
    for option in ("field", "action", "fields", "prefix", "skip_reanalysis", "batch_size"):
        assert f"| `{option}` |" in app_readme, option
    page = (ROOT / "docs" / "splunk.md").read_text()
    assert "](../connector_tools/splunk/app/README.md)" in page
    assert "## Store the API token" not in page and "| `skip_reanalysis` |" not in page
