"""The input playbook for Splunk's Identifier_Reputation_Analysis_Dispatch,
run as the dispatch runs it: an input playbook given file hashes, through the
stand-in playbook API, the app's connector and the simulator; its outputs as
its JSON's output_spec declares them. And its JSON against its Python."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from connector.hashes import HASH_TYPES
from connector.simulator.corpus import Corpus
from connector.simulator.server import Simulator
from connector_tools.soar.app_json import APP_JSON

from .soar_support import ASSET, TOKEN, absent_sha1, closed_port

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
NAME = "spectra_analyze_identifier_reputation_analysis"
EDITOR = json.loads((PLAYBOOKS / f"{NAME}.json").read_text())
SOURCE = (PLAYBOOKS / f"{NAME}.py").read_text()


@pytest.fixture(scope="module")
def playbook() -> Any:
    spec = importlib.util.spec_from_file_location(NAME, PLAYBOOKS / f"{NAME}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def analyse(platform, playbook, hashes: list[str]) -> dict[str, list[Any]]:
    """Run the input playbook as the dispatch playbook does; its outputs."""
    container_id = platform.add_container("incident", [{"fileHash": value} for value in hashes])
    return platform.run_playbook(
        playbook, container_id, inputs={"file_hash": hashes}, output_spec=EDITOR["coa"]["output_spec"]
    )


def test_every_verdict_becomes_an_observable_with_its_normalized_score(soar, simulator, playbook, corpus):
    hashes = [
        corpus.samples[0]["sha1"],
        corpus.hashes("sha256", "suspicious")[0],
        corpus.hashes("md5", "goodware")[0],
        corpus.hashes("sha1", "unknown")[0],
        absent_sha1(4),
    ]
    outputs = analyse(soar, playbook, hashes)
    observables = outputs["observable"]
    assert [item["value"] for item in observables] == hashes
    assert [item["reputation"]["label"] for item in observables] == ["high", "medium", "low", "unknown", "unknown"]
    malicious, suspicious, goodware, unknown, absent = observables
    assert malicious["reputation"] == {
        "score_id": 8,
        "score": "Possibly_Malicious",
        "label": "high",
        "reason": "classification malicious",
    }
    assert suspicious["reputation"]["score_id"] == 6 and suspicious["reputation"]["score"] == "Exercise_Caution"
    assert 1 <= goodware["reputation"]["score_id"] <= 5
    assert (unknown["reputation"]["score_id"], absent["reputation"]["score"]) == (0, "Unknown")
    assert absent["reputation"]["reason"] == "not on the appliance"
    assert {item["source"] for item in observables} == {"ReversingLabs Spectra Analyze"}
    assert {item["type"] for item in observables} == {"hash"}
    assert "Win32.Backdoor.Prorat" in malicious["categories"] and "malicious" in malicious["categories"]
    [report] = outputs["markdown_report"]
    assert len(report.splitlines()) == 2 + len(hashes)
    assert simulator.requests_served == 3  # one action run, one batch per hash type


def test_a_failed_lookup_gives_no_score_so_the_dispatch_never_tags_it(
    platform, app_dir, asset_settings, playbook, corpus
):
    platform.add_asset(ASSET, app_dir, dict(asset_settings, url=f"http://127.0.0.1:{closed_port()}", max_attempts=1))
    outputs = analyse(platform, playbook, [corpus.hashes("md5", "goodware")[0]])
    [observable] = outputs["observable"]
    assert observable["reputation"]["score_id"] is None and observable["reputation"]["label"] is None
    assert observable["reputation"]["reason"].startswith("no verdict: error: ")
    assert "| no verdict |" in outputs["markdown_report"][0]
    assert TOKEN not in json.dumps(outputs)


def test_no_input_no_action(soar, simulator, playbook):
    assert analyse(soar, playbook, []) == {"observable": [], "markdown_report": []}
    assert simulator.requests_served == 0


def test_a_hostile_threat_name_stays_text_in_the_report(platform, app_dir, asset_settings, playbook):
    corpus = Corpus(20)
    sample = corpus.find("sha1", corpus.hashes("sha1", "malicious")[0])
    sample["classification_result"] = "Win32.<img src=x onerror=alert(1)>|[click](http://evil.example)"
    with Simulator(TOKEN, corpus=corpus) as server:
        platform.add_asset(ASSET, app_dir, dict(asset_settings, url=server.url))
        outputs = analyse(platform, playbook, [sample["sha1"]])
    row = outputs["markdown_report"][0].splitlines()[2]
    assert not re.search(r"(?<!\\)[<>\[\]()]", row), "every markup character escaped"
    assert r"\<img src=x onerror=alert\(1\)\>\|\[click\]\(http://evil.example\)" in row
    assert row.count(" | ") == 5  # six cells: the pipe in the name opens none


def test_registered_for_the_dispatch_playbook(app_dir):
    """What Identifier_Reputation_Analysis_Dispatch looks for: an input playbook
    tagged reputation whose inputs take the hash types of the artifacts."""
    assert EDITOR["coa"]["playbook_type"] == "data" and "reputation" in EDITOR["tags"]
    assert EDITOR["category"] == "Identifier Reputation Analysis"
    [file_hash] = EDITOR["coa"]["input_spec"]
    app = json.loads((app_dir / APP_JSON).read_text())
    reputation = next(spec for spec in app["actions"] if spec["identifier"] == "file_reputation")
    assert set(file_hash["contains"]) == set(reputation["parameters"]["hash"]["contains"]) == {"hash", *HASH_TYPES}
    assert [output["name"] for output in EDITOR["coa"]["output_spec"]] == ["observable", "markdown_report"]
    declared = {output["data_path"] for output in reputation["output"]}
    [build] = [node["data"] for node in EDITOR["coa"]["data"]["nodes"].values() if node["type"] == "code"]
    for path in build["inputParameters"]:
        read = "action_result." + path.split(":action_result.")[1]
        assert read in declared or f"{read}.*" in declared, path  # a list is read whole


def test_visual_editor_json_matches_the_python():
    nodes = EDITOR["coa"]["data"]["nodes"]
    defined = {node.name for node in ast.parse(SOURCE).body if isinstance(node, ast.FunctionDef)}
    assert {node["data"]["functionName"] for node in nodes.values()} <= defined
    for node in nodes.values():
        assert node.get("userCode", "").strip() in SOURCE, node["data"]["functionName"]
    assert EDITOR["coa"]["data"]["globalCustomCode"].strip() in SOURCE
    assert EDITOR["coa"]["data"]["description"] in SOURCE
    [lookup] = [node["data"] for node in nodes.values() if node["type"] == "action"]
    assert f'phantom.act("{lookup["action"]}"' in SOURCE and f'assets=["{lookup["connectorConfigs"][0]}"]' in SOURCE
    [build] = [node["data"] for node in nodes.values() if node["type"] == "code"]
    assert json.dumps(build["inputParameters"], separators=(",", ":")) in SOURCE.replace('", "', '","')
    for output in EDITOR["coa"]["output_spec"]:
        for path in output["datapaths"]:
            block, _, name = path.split(":")
            assert f'phantom.save_run_data(key="{block}:{name}"' in SOURCE, path
