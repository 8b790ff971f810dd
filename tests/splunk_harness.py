"""The built Splunk app, installed as Splunk installs it, for the protocol
tests (and the benchmarks and fault tests that reuse them).

    package = build_package(tmp)                  # spectra-connector build-splunk-app
    app_dir = install_app(package, splunk_home)   # <splunk_home>/etc/apps/spectra_analyze
    configure(app_dir, url=simulator.url, max_attempts="1")
    run_command(app_dir, python("3.9"), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, Optional

APP_ID = "spectra_analyze"
SESSION_KEY = "splunkd-session-7b1e44c0a9"
REALM, USERNAME = "spectra_analyze", "api_token"
ACTION = "spectra_analyze_enrich"  # the alert action
SHIPPED_RULES = "splunk-triage.json"
# Splunk 9 runs apps on Python 3.9, Splunk 10 offers 3.13; both come from pyenv.
PYTHON_VERSIONS = {"3.9": "3.9.18", "3.13": "3.13.0"}


def python(version: str) -> str:
    """The interpreter for a Splunk Python version; fails (never skips) when missing."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    path = Path(root, "versions", PYTHON_VERSIONS[version], "bin", "python")
    if not path.exists():
        raise FileNotFoundError(
            f"Python {PYTHON_VERSIONS[version]} is needed at {path} (pyenv install "
            f"{PYTHON_VERSIONS[version]}) to test the app as Splunk runs it"
        )
    return str(path)


def build_package(output: Path) -> Path:
    """Build through the CLI, as a user does; the last line is the path."""
    cli = Path(sys.executable).parent / "spectra-connector"
    done = subprocess.run(
        [str(cli), "build-splunk-app", "--output", str(output)], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise AssertionError(f"build-splunk-app failed ({done.returncode}): {done.stderr}")
    return Path(done.stdout.strip().splitlines()[-1])


def install_app(package: Path, splunk_home: Path) -> Path:
    """Unpack into ``<splunk_home>/etc/apps`` as Splunk does, with its log folder."""
    apps = splunk_home / "etc" / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    (splunk_home / "var" / "log" / "splunk").mkdir(parents=True, exist_ok=True)
    with tarfile.open(package) as archive:
        archive.extractall(apps)
    return apps / APP_ID


def configure(
    app_dir: Path, appliance: Optional[dict[str, str]] = None, command: Optional[dict[str, str]] = None
) -> Path:
    """Write ``local/spectra_analyze.conf`` as an admin would."""
    lines = []
    for stanza, values in (("appliance", appliance), ("command", command)):
        if values:
            lines.append(f"[{stanza}]")
            lines.extend(f"{key} = {value}" for key, value in values.items())
            lines.append("")
    local = app_dir / "local"
    local.mkdir(exist_ok=True)
    path = local / f"{APP_ID}.conf"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def token_credentials(token: str) -> dict[tuple, str]:
    return {(APP_ID, REALM, USERNAME): token}


# How the configuration page's handlers (splunktaucclib 8.2 over solnlib 7) store what an admin saves,
# restated here from their source, independently of connector/splunk/accounts.py which reads it.
UCC_ACCOUNT_CONF, UCC_SETTINGS_CONF = f"{APP_ID}_account", f"{APP_ID}_settings"
UCC_SEP = "``splunk_cred_sep``"
UCC_END_MARK = (
    "``splunk_cred_sep``S``splunk_cred_sep``P``splunk_cred_sep``L``splunk_cred_sep``"
    "U``splunk_cred_sep``N``splunk_cred_sep``K``splunk_cred_sep``"
)


def ucc_realm(conf: str) -> str:
    return f"__REST_CREDENTIAL__#{APP_ID}#configs/conf-{conf}"


def save_ucc_stanza(
    app_dir: Path,
    credentials: dict[tuple, str],
    conf: str,
    stanza: str,
    values: dict[str, str],
    secrets: Optional[dict[str, str]] = None,
) -> None:
    """One stanza saved by a UCC handler: in ``local/<conf>.conf``, each secret
    field written as ``******``; the secrets as one JSON text in pieces of 255
    characters, users ``<stanza>``splunk_cred_sep``<n>``, then the end mark."""
    from connector.splunk.conf import parse_conf

    path = app_dir / "local" / f"{conf}.conf"
    path.parent.mkdir(exist_ok=True)
    stanzas = parse_conf(path.read_text(encoding="utf-8")) if path.exists() else {}
    stanzas.pop("default", None)
    stanzas[stanza] = dict(values, **{field: "******" for field in (secrets or {})})
    _write_conf(path, stanzas)
    if secrets:
        text = json.dumps(secrets)
        pieces = [text[start : start + 255] for start in range(0, len(text), 255)] + [UCC_END_MARK]
        for index, piece in enumerate(pieces, start=1):
            credentials[(APP_ID, ucc_realm(conf), f"{stanza}{UCC_SEP}{index}")] = piece


def delete_ucc_stanza(app_dir: Path, credentials: dict[tuple, str], conf: str, stanza: str) -> None:
    """What the page's Delete does: the stanza and its secrets go."""
    from connector.splunk.conf import parse_conf

    path = app_dir / "local" / f"{conf}.conf"
    stanzas = parse_conf(path.read_text(encoding="utf-8"))
    stanzas.pop("default", None)
    stanzas.pop(stanza, None)
    _write_conf(path, stanzas)
    for key in [key for key in credentials if key[1] == ucc_realm(conf) and key[2].startswith(stanza + UCC_SEP)]:
        del credentials[key]


def add_appliance(
    app_dir: Path, credentials: dict[tuple, str], name: str, url: str, token: Optional[str], **fields: str
) -> None:
    """An appliance added on the page's Appliances tab."""
    save_ucc_stanza(
        app_dir,
        credentials,
        UCC_ACCOUNT_CONF,
        name,
        dict({"url": url}, **fields),
        {"api_token": token} if token is not None else None,
    )


def save_tab(
    app_dir: Path,
    credentials: dict[tuple, str],
    tab: str,
    values: dict[str, str],
    secrets: Optional[dict[str, str]] = None,
) -> None:
    """A settings tab (settings, proxy, logging) saved on the page."""
    save_ucc_stanza(app_dir, credentials, UCC_SETTINGS_CONF, tab, values, secrets)


def _write_conf(path: Path, stanzas: dict[str, dict[str, str]]) -> None:
    """As splunkd writes a .conf: a value's line breaks continued with a backslash (a pasted PEM)."""

    def line(key: str, value: str) -> str:
        return f"{key} = " + value.replace("\n", "\\\n") + "\n"

    path.write_text(
        "".join(
            f"[{name}]\n" + "".join(line(key, value) for key, value in fields.items()) + "\n"
            for name, fields in stanzas.items()
        ),
        encoding="utf-8",
    )


# The alert action, run as splunkd runs it.


def write_results(path: Path, results: list[dict[str, Any]]) -> Path:
    """The alert's results as splunkd writes them: gzip CSV, a multivalue
    field as its values on lines plus a ``__mv_`` column of ``$a$;$b$``."""
    columns = list(dict.fromkeys(key for result in results for key in result))
    for key in [key for key in columns if any(isinstance(result.get(key), list) for result in results)]:
        columns.append("__mv_" + key)
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for result in results:
            row = {}
            for key, value in result.items():
                if isinstance(value, list):
                    row[key] = "\n".join(value)
                    row["__mv_" + key] = ";".join("$" + item.replace("$", "$$") + "$" for item in value)
                else:
                    row[key] = value
            writer.writerow(row)
    return path


def payload_for(results_file: Path, splunkd_uri: str, **configuration: str) -> dict[str, Any]:
    return {
        "app": "search",
        "owner": "admin",
        "results_file": str(results_file),
        "results_link": "http://sh1:8000/app/search/search?q=%7Cloadjob%20scheduler__admin__search__RMD5",
        "search_uri": "/servicesNS/admin/search/saved/searches/Malware%20hashes",
        "server_host": "sh1",
        "server_uri": splunkd_uri,
        "session_key": SESSION_KEY,
        "sid": "scheduler__admin__search__RMD5_at_1",
        "search_name": "Malware hashes",
        "configuration": dict({"rules_file": SHIPPED_RULES, "index": "alerts"}, **configuration),
        "result": {},
    }


def execute(app_dir: Path, version: str, payload: dict[str, Any], **environ: str) -> subprocess.CompletedProcess:
    """The payload goes in as splunkd writes it, UTF-8 with every character
    as it is (a lone surrogate as its JSON escape); stderr must be UTF-8."""
    env = dict({"PATH": os.environ.get("PATH", ""), "SPLUNK_HOME": str(app_dir.parent.parent.parent)}, **environ)
    run = subprocess.run(
        [python(version), str(app_dir / "bin" / f"{ACTION}.py"), "--execute"],
        input=json.dumps(payload, ensure_ascii=False).encode("utf-8", "backslashreplace"),
        capture_output=True,
        env=env,
        timeout=120,
    )
    run.stderr = run.stderr.decode("utf-8")
    return run


def events_of(splunkd: Any) -> list[dict[str, Any]]:
    """The events splunkd received, a line each (props.conf breaks lines at CR and LF only; str.splitlines would
    also break at U+2028 and others, which JSON leaves unescaped)."""
    return [json.loads(line.decode("utf-8")) for _, body in splunkd.received for line in body.splitlines()]


def alert_results(corpus, count=240):
    """Results of a hash-hunting search: CIM file_hash, sha256 and multivalue
    md5 fields, unknown hashes, results without a hash, Splunk's internal fields."""
    malicious = corpus.hashes("sha256", "malicious")
    goodware = corpus.hashes("sha1", "goodware")
    md5s = corpus.hashes("md5")
    results = []
    for index in range(count):
        result = {
            "_time": f"{1700000000 + index}.250",
            "_raw": f"event {index} file=C:\\\\x{index}.exe",
            "host": f"ws-{index % 7:02d}",
            "source": "WinEventLog:Sysmon",
            "sourcetype": "xmlwineventlog",
            "_cd": f"1:{index}",
            "_bkt": "main~1~X",
            "severity": "low",
            "n": str(index),
        }
        shape = index % 4
        if shape == 0:
            result["file_hash"] = malicious[index % 150]
        elif shape == 1:
            result["sha1"] = goodware[index]
        elif shape == 2:
            result["md5"] = [md5s[index], md5s[index + 1], "ab" * 16]
        results.append(result)
    return results
