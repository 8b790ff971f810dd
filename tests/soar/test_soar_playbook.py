"""The shipped playbook run on containers, through the stand-in playbook API,
the app's connector and the simulator: what it does to the container in
each case. And its visual-editor JSON against its Python."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from connector.simulator.corpus import Corpus
from connector.simulator.server import Simulator

from .soar_support import ASSET, TOKEN, absent_sha1, closed_port

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
NAME = "spectra_analyze_file_hash_triage"


@pytest.fixture(scope="module")
def playbook() -> Any:
    spec = importlib.util.spec_from_file_location(NAME, PLAYBOOKS / f"{NAME}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def triage(platform, playbook, artifacts: list[dict[str, str]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the playbook on a new container; its stored state and notes after."""
    container_id = platform.add_container("incident", artifacts)
    platform.run_playbook(playbook, container_id)
    return platform.containers[container_id], platform.notes[container_id]


def test_malicious_escalates_to_a_high_severity_case(soar, playbook, corpus):
    sample = corpus.samples[0]
    container, notes = triage(soar, playbook, [{"fileHash": sample["sha1"]}])
    assert container["severity"] == "high"
    assert container["tags"] == ["rl-malicious"]
    assert container["container_type"] == "case"
    [note] = notes
    assert "malicious" in note["title"] and "Win32.Backdoor.Prorat" in note["content"]
    assert sample["sha1"] in note["content"]


def test_suspicious_is_tagged_and_noted_with_its_threat_name(soar, playbook, corpus):
    sha256 = corpus.hashes("sha256", "suspicious")[0]
    threat = corpus.find("sha256", sha256)["classification_result"]
    container, notes = triage(soar, playbook, [{"fileHashSha256": sha256}])
    assert (container["severity"], container["tags"], container["container_type"]) == (
        "medium",
        ["rl-suspicious"],
        "default",
    )
    [note] = notes
    assert "suspicious" in note["title"] and threat in note["content"] and sha256 in note["content"]


def test_goodware_changes_nothing(soar, playbook, corpus):
    container, notes = triage(soar, playbook, [{"fileHashMd5": corpus.hashes("md5", "goodware")[0]}])
    assert (container["severity"], container["tags"], container["container_type"], notes) == (
        "medium",
        [],
        "default",
        [],
    )


def test_not_found_is_tagged_never_read_as_clean(soar, playbook):
    container, notes = triage(soar, playbook, [{"fileHash": absent_sha1(7)}])
    assert (container["severity"], container["tags"], container["container_type"], notes) == (
        "medium",
        ["rl-not-found"],
        "default",
        [],
    )


def test_lookup_error_leaves_a_note_and_no_verdict(platform, app_dir, asset_settings, playbook, corpus):
    platform.add_asset(ASSET, app_dir, dict(asset_settings, url=f"http://127.0.0.1:{closed_port()}", max_attempts=1))
    sha1 = corpus.samples[0]["sha1"]
    container, notes = triage(platform, playbook, [{"fileHash": sha1}, {"fileHash": "not-a-hash"}])
    assert (container["severity"], container["tags"], container["container_type"]) == ("medium", [], "default")
    [note] = notes
    assert "no verdict" in note["title"]
    assert f"| {sha1} | error |" in note["content"] and "| not-a-hash | invalid |" in note["content"]
    assert TOKEN not in note["content"]


def test_a_high_risk_score_escalates_without_a_malicious_verdict(platform, app_dir, asset_settings, playbook):
    corpus = Corpus(20)
    sample = corpus.find("sha1", corpus.hashes("sha1", "suspicious")[0])
    sample["riskscore"] = 8
    with Simulator(TOKEN, corpus=corpus) as server:
        platform.add_asset(ASSET, app_dir, dict(asset_settings, url=server.url))
        container, notes = triage(platform, playbook, [{"fileHash": sample["sha1"]}])
    assert container["severity"] == "high" and container["container_type"] == "case"
    assert container["tags"] == ["rl-high-risk", "rl-suspicious"]
    assert [note["title"] for note in notes] == [
        "Spectra Analyze: malicious or high-risk file hashes",
        "Spectra Analyze: suspicious file hashes",
    ]


def test_every_hash_of_a_container_in_one_batched_call(soar, simulator, playbook, corpus):
    artifacts = [
        {"fileHash": corpus.samples[0]["sha1"]},
        {"fileHashSha256": corpus.hashes("sha256", "suspicious")[0]},
        {"fileHashMd5": corpus.hashes("md5", "goodware")[0]},
        {"fileHash": absent_sha1(3), "fileHashSha1": absent_sha1(3)},
        {"sourceAddress": "10.0.0.1"},
    ]
    container, notes = triage(soar, playbook, artifacts)
    assert simulator.requests_served == 3  # one action call; one batch per hash type
    assert sorted(container["tags"]) == ["rl-malicious", "rl-not-found", "rl-suspicious"]
    assert container["severity"] == "high" and container["container_type"] == "case"
    assert len(notes) == 2


def test_a_container_without_hashes_is_left_alone(soar, simulator, playbook):
    container, notes = triage(soar, playbook, [{"sourceAddress": "10.0.0.1"}])
    assert simulator.requests_served == 0
    assert (container["severity"], container["tags"], notes) == ("medium", [], [])


def filter_conditions(source: str, function: str) -> list[dict[str, Any]]:
    """The conditions the Python's filter block passes to phantom.condition, in order."""
    tree = ast.parse(source)
    block = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == function)
    found = []
    for call in ast.walk(block):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "condition":
            arguments = {keyword.arg: keyword.value for keyword in call.keywords}
            logic = ast.literal_eval(arguments["logical_operator"]) if "logical_operator" in arguments else "and"
            found.append({"logic": logic, "comparisons": ast.literal_eval(arguments["conditions"])})
    return found


def test_visual_editor_json_matches_the_python():
    source = (PLAYBOOKS / f"{NAME}.py").read_text()
    editor = json.loads((PLAYBOOKS / f"{NAME}.json").read_text())
    nodes = editor["coa"]["data"]["nodes"]
    defined = {node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
    assert {node["data"]["functionName"] for node in nodes.values()} <= defined
    for node in nodes.values():
        assert node.get("userCode", "").strip() in source, node["data"]["functionName"]
    assert editor["coa"]["data"]["globalCustomCode"].strip() in source
    [verdicts] = [node["data"] for node in nodes.values() if node["type"] == "filter"]
    assert [
        {
            "logic": condition["logic"],
            "comparisons": [[c["param"], c["op"], c["value"]] for c in condition["comparisons"]],
        }
        for condition in verdicts["conditions"]
    ] == filter_conditions(source, verdicts["functionName"])
    [lookup] = [node["data"] for node in nodes.values() if node["type"] == "action"]
    assert f'phantom.act("{lookup["action"]}"' in source and f'assets=["{lookup["connectorConfigs"][0]}"]' in source
    targets = {
        edge["conditions"][0]["index"]: nodes[edge["targetNode"]]["data"]["functionName"]
        for edge in editor["coa"]["data"]["edges"]
        if "conditions" in edge
    }
    calls = source.split(f"def {verdicts['functionName']}(")[1].split("\n@phantom")[0]
    for index, function in targets.items():
        branch = calls.split(f"condition {index + 1}\n")[1].split("# collect filtered")[0]
        assert f"{function}(action=action" in branch
