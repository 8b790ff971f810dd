"""The app's custom result view: the data of real action runs against the
simulator, through the built app's view module and its template rendered by
Django's template engine (as SOAR renders classic views), then loaded in
headless Chromium. Hostile threat names and tags must show as text."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import phantom.app as phantom
import pytest
from phantom.action_result import ActionResult

from connector.simulator.corpus import VENDOR_SUMMARY_SHA1, Corpus
from connector.simulator.server import Simulator
from connector_tools.soar.app_json import APP_JSON

from .soar_support import ASSET, TOKEN, absent_sha1

pytestmark = pytest.mark.slow  # headless Chromium

HOSTILE_NAME = "Win32.Trojan.<img src=x onerror=\"document.title='pwned'\">"
HOSTILE_TAG = "<script>document.title='pwned'</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Set to a folder to keep the screenshot (docs/images/soar-view.png is made so).
SCREENSHOT_DIR = os.environ.get("SPECTRA_SCREENSHOT_DIR")


@pytest.fixture(scope="module")
def hostile_corpus() -> Corpus:
    corpus = Corpus(2000)
    sample = corpus.find("sha1", corpus.hashes("sha1", "malicious")[1])
    sample["classification_result"] = HOSTILE_NAME
    sample["tags"] = {"ticore": ["capability-execution", HOSTILE_TAG], "user": []}
    return corpus


def view_module(app_dir: Path, app: dict[str, Any], identifier: str) -> tuple[Any, str]:
    """The view function the app JSON names for an action, imported from the app folder."""
    spec = next(spec for spec in app["actions"] if spec["identifier"] == identifier)
    assert spec["render"]["type"] == "custom"
    module_name, function = spec["render"]["view"].rsplit(".", 1)
    loaded = importlib.util.spec_from_file_location(module_name, app_dir / f"{module_name}.py")
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return getattr(module, function), spec["action"]


def action_results(run: dict[str, Any]) -> list[ActionResult]:
    """The stored results of a run as SOAR hands them to a view: ActionResult objects."""
    results = []
    for stored in run["action_results"]:
        result = ActionResult(stored["parameter"])
        result.update_data(stored["data"])
        result.update_summary(stored["summary"])
        result.set_status(
            phantom.APP_SUCCESS if stored["status"] == "success" else phantom.APP_ERROR, stored["message"]
        )
        results.append(result)
    return results


def render(app_dir: Path, template: str, context: dict[str, Any]) -> str:
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_I18N=False)
    from django.template import Context, Engine

    return Engine(dirs=[str(app_dir)]).get_template(template).render(Context(context))


@pytest.fixture(scope="module")
def page(app_dir, platform_module, asset_module, hostile_corpus, tmp_path_factory) -> Path:
    """The three views of one real run each, in one HTML page."""
    app = json.loads((app_dir / APP_JSON).read_text())
    hashes = [
        hostile_corpus.hashes("sha256", "goodware")[0],
        absent_sha1(3),
        hostile_corpus.hashes("md5", "suspicious")[0],
        hostile_corpus.hashes("sha1", "malicious")[1],
        "not-a-hash",
        hostile_corpus.samples[0]["sha1"],
        hostile_corpus.hashes("sha1", "unknown")[0],
    ]
    sections = []
    with Simulator(TOKEN, corpus=hostile_corpus) as server:
        platform_module.add_asset(ASSET, app_dir, dict(asset_module, url=server.url))
        for identifier, parameters in (
            ("file_reputation", {"hash": ",".join(hashes)}),
            ("get_report", {"hashes": ",".join(hashes)}),
            ("get_summary", {"hashes": VENDOR_SUMMARY_SHA1}),
        ):
            display, action = view_module(app_dir, app, identifier)
            run = platform_module.run_action(ASSET, action, [parameters])
            context: dict[str, Any] = {}
            template = display(action, [(run["summary"], action_results(run))], context)
            sections.append(f"<h2>{action}</h2>" + render(app_dir, template, context))
    path = tmp_path_factory.mktemp("view") / "view.html"
    path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Spectra Analyze view</title></head>"
        "<body style='margin:16px'>" + "".join(sections) + "</body></html>",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def platform_module(tmp_path_factory):
    import soar_platform
    from phantom import base_connector

    base_connector.STATE_ROOT = tmp_path_factory.mktemp("app_states")
    soar_platform.PLATFORM = soar_platform.Platform()
    return soar_platform.PLATFORM


@pytest.fixture(scope="module")
def asset_module() -> dict[str, Any]:
    return {"token": TOKEN, "verify_tls": True, "cache": False, "max_attempts": 1}


class Cells(HTMLParser):
    """The elements of a page and the text of each table row's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        self.elements.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self._in_cell, self._cell = True, []

    def handle_endtag(self, tag):
        if tag == "td":
            self.rows[-1].append("".join(self._cell).strip())
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self._cell.append(data)


def browser(*arguments: str) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is missing: make test installs it (apt-get install chromium)"
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:  # one of its own per run
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                *arguments,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )


def test_the_browser_shows_hostile_values_as_text_and_runs_nothing(page):
    dom = browser("--virtual-time-budget=2000", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = Cells()
    parsed.feed(dom.stdout)
    assert "<title>Spectra Analyze view</title>" in dom.stdout, "a script ran: the title changed"
    assert "img" not in parsed.elements and "script" not in parsed.elements
    reputation = parsed.rows[1:8]  # the file reputation table's body, after its header row
    [hostile] = [row for row in reputation if HOSTILE_NAME in row]
    assert HOSTILE_TAG in hostile[5]


def test_rows_come_most_dangerous_first_with_their_verdicts(page):
    parsed = Cells()
    parsed.feed(page.read_text())
    reputation = [row for row in parsed.rows[1:8]]
    expected = ["malicious", "malicious", "suspicious", "unknown", "not found", "invalid", "goodware"]
    assert [cell.startswith(kind) for cell, kind in zip([row[1] for row in reputation], expected)] == [True] * 7
    assert [row[2].split()[0] for row in reputation] == ["high", "high", "medium", "unknown", "unknown", "no", "low"]
    assert {reputation[0][4], reputation[1][4]} == {"Win32.Backdoor.Prorat", HOSTILE_NAME}
    assert int(reputation[0][3]) >= int(reputation[1][3]), "the higher risk score first"
    summary = parsed.rows[-1]
    assert "Deletes files in Windows system directories." in summary[-1]


def test_the_screenshot_shows_the_view(page, tmp_path):
    target = Path(SCREENSHOT_DIR or tmp_path) / "soar-view.png"
    shot = browser("--window-size=1400,1400", f"--screenshot={target}", page.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
