"""Several appliances, as an admin adds them on the app's configuration page:
the built app's ``spectraanalyze`` driven as splunkd drives it (SCP v2, Python
3.9 and 3.13), the accounts, settings and proxy stored exactly as the page's
UCC handlers store them (``splunk_harness.save_ucc_stanza``), the secrets
served by the stand-in splunkd's storage/passwords."""

from __future__ import annotations

from collections import Counter

import pytest
from certs import Authority
from helpers import TOKEN
from scp import run_command
from splunk_harness import (
    SESSION_KEY,
    UCC_ACCOUNT_CONF,
    add_appliance,
    configure,
    delete_ucc_stanza,
    python,
    save_tab,
    token_credentials,
)
from splunkd_standin import SplunkdStandIn

from connector.simulator.server import Simulator

PYTHONS = ["3.9", "3.13"]
LAB_TOKEN = "lab-token-" + "7" * 300  # longer than one 255-character piece of storage/passwords
PAGE = "configuration page"


@pytest.fixture
def splunkd():
    with SplunkdStandIn(SESSION_KEY) as standin:
        yield standin


@pytest.fixture
def lab(corpus, tmp_path):
    """A second appliance, on HTTPS with a private CA (pasted in the page)."""
    authority = Authority(tmp_path)
    with Simulator(LAB_TOKEN, corpus=corpus, tls=authority.server_context()) as server:
        server.authority = authority
        yield server


def looked_up(simulator):
    return [value for body in simulator.bodies for value in body["hash_values"]]


def two_appliances(app, splunkd, simulator, lab, default="prod"):
    add_appliance(app, splunkd.credentials, "prod", simulator.url, TOKEN, allow_http="1", max_attempts="1")
    add_appliance(
        app, splunkd.credentials, "lab", lab.url, LAB_TOKEN, verify_tls="1", ca_bundle=lab.authority.bundle.read_text()
    )
    if default:
        save_tab(app, splunkd.credentials, "settings", {"default_appliance": default})


@pytest.mark.parametrize("version", PYTHONS)
def test_appliance_option_chooses_between_two_appliances(version, splunk_app, splunkd, simulator, lab, corpus):
    two_appliances(splunk_app, splunkd, simulator, lab)
    hashes = [sample["sha1"] for sample in corpus.samples[:3]]
    events = [[{"sha1": value} for value in hashes]]

    on_lab = run_command(splunk_app, python(version), ["field=sha1", "appliance=lab"], events, splunkd.uri, SESSION_KEY)
    assert on_lab.returncode == 0, on_lab.stderr
    assert on_lab.messages == []
    assert [record["rl_status"] for record in on_lab.records] == ["found"] * 3
    assert Counter(looked_up(lab)) == Counter(hashes) and looked_up(simulator) == []

    by_default = run_command(splunk_app, python(version), ["field=sha1"], events, splunkd.uri, SESSION_KEY)
    assert [record["rl_status"] for record in by_default.records] == ["found"] * 3
    assert Counter(looked_up(simulator)) == Counter(hashes)  # the default appliance: prod
    assert Counter(looked_up(lab)) == Counter(hashes)  # not asked again
    log = (splunk_app.parents[2] / "var" / "log" / "splunk" / "spectra_analyze.log").read_text()
    assert TOKEN not in log and LAB_TOKEN[:40] not in log


@pytest.mark.parametrize("version", PYTHONS)
@pytest.mark.parametrize(
    "case, option, expected",
    [
        ("unknown", "appliance=nowhere", "there is no appliance 'nowhere'"),
        ("disabled", "appliance=lab", "the appliance 'lab' is disabled"),
        ("deleted", "appliance=lab", "there is no appliance 'lab'"),
        ("no token", "appliance=lab", "no API token is stored for the appliance 'lab'"),
        ("plain http", "appliance=prod", "the appliance 'prod' has a plain http:// address"),
    ],
)
def test_an_unusable_appliance_gives_one_error_and_every_event(
    version, case, option, expected, splunk_app, splunkd, simulator, lab, corpus
):
    two_appliances(splunk_app, splunkd, simulator, lab)
    if case == "disabled":
        add_appliance(splunk_app, splunkd.credentials, "lab", lab.url, LAB_TOKEN, disabled="1")
    elif case == "deleted":
        delete_ucc_stanza(splunk_app, splunkd.credentials, UCC_ACCOUNT_CONF, "lab")
    elif case == "no token":
        for key in [
            key
            for key in splunkd.credentials
            if "#configs/conf-spectra_analyze_account" in key[1] and key[2].startswith("lab")
        ]:
            del splunkd.credentials[key]
    elif case == "plain http":
        add_appliance(splunk_app, splunkd.credentials, "prod", simulator.url, TOKEN)  # no "allow plain HTTP"
    chunks = [
        [{"sha1": corpus.samples[0]["sha1"], "n": "1"}, {"sha1": "", "n": "2"}],
        [{"sha1": corpus.samples[1]["sha1"], "n": "3"}],
    ]
    run = run_command(splunk_app, python(version), ["field=sha1", option], chunks, splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    assert [record["n"] for record in run.records] == ["1", "2", "3"]  # every event out
    assert [record["rl_status"] for record in run.records if record["sha1"]] == ["error", "error"]
    errors = run.messages_of("ERROR")
    assert len(errors) == 1 and expected in errors[0] and PAGE in errors[0], errors
    assert looked_up(simulator) == [] and looked_up(lab) == []


@pytest.mark.parametrize("version", PYTHONS)
def test_no_default_among_several_appliances_says_how_to_choose(version, splunk_app, splunkd, simulator, lab, corpus):
    two_appliances(splunk_app, splunkd, simulator, lab, default=None)
    run = run_command(
        splunk_app, python(version), ["field=sha1"], [[{"sha1": corpus.samples[0]["sha1"]}]], splunkd.uri, SESSION_KEY
    )
    errors = run.messages_of("ERROR")
    assert len(errors) == 1 and "no default appliance" in errors[0] and "lab, prod" in errors[0]
    assert run.records[0]["rl_status"] == "error"


@pytest.mark.parametrize("version", PYTHONS)
def test_an_upgraded_1_0_install_keeps_working_until_a_default_is_chosen(
    version, splunk_app, splunkd, simulator, lab, corpus
):
    """1.0 kept the appliance in local/spectra_analyze.conf and its token under the realm spectra_analyze."""
    configure(splunk_app, {"url": simulator.url, "max_attempts": "1", "cache": "false"}, {"memo_size": "0"})
    splunkd.credentials.update(token_credentials(TOKEN))
    sha1 = corpus.samples[0]["sha1"]
    chunks = [[{"sha1": sha1}], [{"sha1": sha1}]]

    before = run_command(splunk_app, python(version), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)
    assert [record["rl_status"] for record in before.records] == ["found", "found"]
    assert looked_up(simulator) == [sha1, sha1]  # its memo_size = 0 and cache = false still hold

    add_appliance(
        splunk_app, splunkd.credentials, "lab", lab.url, LAB_TOKEN, ca_bundle=lab.authority.bundle.read_text()
    )
    still = run_command(splunk_app, python(version), ["field=sha1"], chunks[:1], splunkd.uri, SESSION_KEY)
    assert still.records[0]["rl_status"] == "found" and looked_up(lab) == []  # 1.0's appliance stays the default
    chosen = run_command(
        splunk_app, python(version), ["field=sha1", "appliance=lab"], chunks[:1], splunkd.uri, SESSION_KEY
    )
    assert chosen.records[0]["rl_status"] == "found" and looked_up(lab) == [sha1]

    save_tab(splunk_app, splunkd.credentials, "settings", {"default_appliance": "lab", "memo_size": "20000"})
    after = run_command(splunk_app, python(version), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)
    assert [record["rl_status"] for record in after.records] == ["found", "found"]
    # The page's default now; the Settings tab's memo over the 1.0 file's, whose cache = false still holds.
    assert looked_up(lab) == [sha1, sha1]
    assert after.messages == []


def test_settings_and_proxy_tabs_are_read_as_the_page_saves_them(splunk_app, splunkd, simulator, lab, corpus):
    """Settings: cache off and memo off; Proxy: enabled, with a password in storage/passwords, towards a port
    where nothing listens: the lookups fail through the proxy, and its password shows nowhere."""
    two_appliances(splunk_app, splunkd, simulator, lab)
    save_tab(splunk_app, splunkd.credentials, "settings", {"default_appliance": "prod", "cache": "0", "memo_size": "0"})
    sha1 = corpus.samples[0]["sha1"]
    chunks = [[{"sha1": sha1}], [{"sha1": sha1}]]
    run = run_command(splunk_app, python("3.13"), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)
    assert looked_up(simulator) == [sha1, sha1]  # neither memo nor cache
    assert [record["rl_status"] for record in run.records] == ["found", "found"]

    save_tab(
        splunk_app,
        splunkd.credentials,
        "proxy",
        {
            "proxy_enabled": "1",
            "proxy_type": "http",
            "proxy_url": "127.0.0.1",
            "proxy_port": "9",
            "proxy_username": "squid",
        },
        {"proxy_password": "proxy-secret-93e1"},
    )
    through = run_command(splunk_app, python("3.13"), ["field=sha1"], chunks[:1], splunkd.uri, SESSION_KEY)
    assert through.records[0]["rl_status"] == "error" and looked_up(simulator) == [sha1, sha1]
    assert "proxy" in through.records[0]["rl_error"].lower()
    log = (splunk_app.parents[2] / "var" / "log" / "splunk" / "spectra_analyze.log").read_text()
    shown = log + repr(through.records) + repr(through.messages)
    assert "proxy-secret-93e1" not in shown


CONTRACT = r"""
import json, sys
from solnlib.credentials import CredentialManager
from splunktaucclib.rest_handler.endpoint import RestModel, SingleModel
from splunktaucclib.rest_handler.credentials import RestCredentials, RestCredentialsContext

stored = json.loads(sys.stdin.read())
class Entry:  # what splunklib's StoragePassword gives solnlib
    def __init__(self, realm, username, password):
        self.realm, self.username, self.clear_password = realm, username, password
        self.name = realm + ":" + username + ":"
reader = CredentialManager.__new__(CredentialManager)
merged = reader._get_clear_passwords([Entry(*item) for item in stored["entries"]])
endpoint = SingleModel(stored["conf"], RestModel([], name=None), config_name="account")
context = RestCredentialsContext(endpoint, stored["stanza"])
# The realm as the handlers compute it: the app's name from this script's path (etc/apps/<app>/bin/).
# Into a file: with splunktaucclib imported, nothing printed reached the test.
open(sys.argv[1], "w").write(json.dumps({"realm": RestCredentials("https://127.0.0.1:8089", "key", endpoint)._realm,
                  "secrets": {entry["username"]: context.load(entry["clear_password"]) for entry in merged}}))
"""


def test_the_stored_form_is_what_solnlib_and_splunktaucclib_read_back(splunk_app):
    """The harness's restatement of the handlers' format (which accounts.py reads), read back by the
    built app's own solnlib and splunktaucclib (lib/) under Splunk's Python 3.9."""
    import json
    import subprocess

    from splunk_harness import ucc_realm

    credentials = {}
    add_appliance(splunk_app, credentials, "lab", "https://lab.example.com", LAB_TOKEN)
    stored = {
        "conf": UCC_ACCOUNT_CONF,
        "stanza": "lab",
        "entries": [[realm, username, password] for (app, realm, username), password in credentials.items()],
    }
    script = splunk_app / "bin" / "ucc_contract.py"  # where a handler runs, which names the app
    script.write_text(CONTRACT, encoding="utf-8")
    output = splunk_app / "contract.json"
    done = subprocess.run(
        [python("3.9"), str(script), str(output)],
        input=json.dumps(stored),
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(splunk_app / "lib")},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(output.read_text())
    assert answer["realm"] == ucc_realm(UCC_ACCOUNT_CONF)
    assert answer["secrets"] == {"lab": {"api_token": LAB_TOKEN}}
    assert len(credentials) == 3  # two pieces of 255 characters at most, and the end mark
