"""Every shipped rules file, applied to alerts of the shape it is written
for, against the embedded simulator over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.rules import AlertEnricher, load_rules
from connector.service import LookupService

EXAMPLES = Path(__file__).resolve().parent.parent / "playbooks" / "rules"


def sample(corpus, threat=None, classification=None):
    return next(
        s
        for s in corpus.samples
        if (threat is None or s["classification_result"] == threat)
        and (classification is None or str(s["classification"]).lower() == classification)
    )


def check_malware_triage(client, corpus):
    rules = load_rules(EXAMPLES / "malware-triage.json")
    malicious = sample(corpus, classification="malicious")
    suspicious = sample(corpus, classification="suspicious")
    good = sample(corpus, classification="goodware")
    unknown_sha1 = "ab" * 20
    alerts = [
        {"rule": "edr-1", "file": {"hash": {"sha256": malicious["sha256"]}}, "severity": "medium"},
        {"rule": "edr-2", "file": {"hash": {"sha1": suspicious["sha1"]}}, "severity": "medium"},
        {"rule": "mail-3", "hashes": [good["md5"], unknown_sha1], "severity": "low"},
        {"rule": "edr-4", "process": {"hash": {"sha256": malicious["sha256"]}}, "hashes": unknown_sha1},
        {"rule": "net-5", "src_ip": "10.0.0.1"},
    ]
    out = AlertEnricher(rules, LookupService(client)).enrich(alerts)
    assert out[0]["severity"] == "critical" and out[0]["route"] == "incident-response"
    assert out[0]["tags"] == ["malware", "Prorat"]
    assert out[0]["verdict"] == "malicious: Win32.Backdoor.Prorat (risk 8/10)"
    assert out[0]["enrichment"]["matched"] == ["malicious-to-incident"]
    assert (out[1]["severity"], out[1]["route"], out[1]["tags"]) == ("high", "soc-triage", ["suspicious-file"])
    assert out[2]["severity"] == "low" and out[2]["tags"] == ["submit-to-spectra-analyze"]
    assert out[2]["submit_hash"] == unknown_sha1 and out[2]["rl_status"] == "not_found"
    assert out[3]["enrichment"]["matched"] == ["unknown-to-submission", "malicious-to-incident"]
    assert out[3]["tags"] == ["submit-to-spectra-analyze", "malware", "Prorat"] and out[3]["severity"] == "critical"
    assert out[4] is alerts[4]


def check_threat_routing(client, corpus):
    rules = load_rules(EXAMPLES / "threat-routing.json")
    ransomware = sample(corpus, threat="Win32.Ransomware.WannaCry")
    windows = sample(corpus, threat="Win64.Backdoor.Cobaltstrike", classification="malicious")
    linux = sample(corpus, threat="Linux.Trojan.Mirai", classification="malicious")
    good = [s for s in corpus.samples if s["classification"] == "goodware"][:2]

    def ecs(file_sha256, *indicator_sha256):
        return {
            "kibana.alert.severity": "medium",
            "file": {"hash": {"sha256": file_sha256}},
            "threat": {
                "enrichments": [{"indicator": {"file": {"hash": {"sha256": value}}}} for value in indicator_sha256]
            },
        }

    alerts = [
        ecs("-", good[0]["sha256"], ransomware["sha256"]),
        ecs(windows["sha256"]),
        ecs(linux["sha256"]),
        ecs(good[0]["sha256"], good[1]["sha256"]),
    ]
    out = AlertEnricher(rules, LookupService(client)).enrich(alerts)
    assert out[0]["kibana.alert.severity"] == "critical" and out[0]["event"]["queue"] == "ir-ransomware"
    assert out[0]["edr"]["action"] == "isolate-host" and out[0]["spectra"]["risk"] == ransomware["riskscore"]
    assert out[0]["spectra_sha256"] == ransomware["sha256"]
    flagged = ["ransomware-indicator"] if mentions_ransomware(ransomware) else []
    assert out[0]["tags"] == flagged + ["ransomware", "Win32.Ransomware.WannaCry"]
    assert out[0]["spectra"]["enrichment"]["matched"] == ["ransomware-indicators"] * len(flagged) + ["ransomware"]
    assert out[0]["spectra_indicator_count"] == len(ransomware["summary"]["indicators"])  # get_summary fields
    assert (out[1]["kibana.alert.severity"], out[1]["event"]["queue"], out[1]["edr"]["action"]) == (
        "high",
        "ir-windows",
        "isolate-host",
    )
    assert out[1].get("tags", []) == (["ransomware-indicator"] if mentions_ransomware(windows) else [])
    assert out[2]["edr"]["action"] == "none" and out[2]["kibana.alert.severity"] == "medium"
    assert out[3]["kibana.alert.severity"] == "low" and out[3]["tags"] == ["known-good"]
    assert out[3]["spectra"]["enrichment"]["matched"] == ["all-known-good"]


def mentions_ransomware(sample_item):
    return any("ransomware" in indicator["description"].lower() for indicator in sample_item["summary"]["indicators"])


CHECKS = {"malware-triage.json": check_malware_triage, "threat-routing.json": check_threat_routing}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda path: path.name)
def test_every_example_loads_and_does_what_it_says(path, client, corpus):
    assert path.name in CHECKS, f"{path.name} is shipped without a test"
    CHECKS[path.name](client, corpus)
