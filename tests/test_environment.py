"""What the client takes from its environment, over real HTTP: the usual
proxy variables and NO_PROXY, REQUESTS_CA_BUNDLE; never ~/.netrc, whose
login for the appliance's host would replace the API token."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from certs import Authority
from helpers import TOKEN

from connector.actions import run_lookup
from connector.client import SpectraAnalyzeClient
from connector.config import Config
from connector.simulator.server import Simulator

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NETRC",
)


class ForwardingProxy:
    """A plain HTTP proxy in front of one server: it records the target of
    each request it is asked to forward and forwards it there."""

    def __init__(self, upstream: str) -> None:
        self.targets: list[str] = []
        owner = self
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # not through itself

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                owner.targets.append(self.path)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                path = self.path.split("/", 3)[3]
                forwarded = urllib.request.Request(
                    f"{upstream}/{path}",
                    data=body,
                    method="POST",
                    headers={name: self.headers[name] for name in ("Authorization", "Content-Type")},
                )
                with direct.open(forwarded) as answer:
                    data = answer.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """A clean environment: no proxy, CA or netrc variable; HOME in tmp_path."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


@pytest.fixture
def proxy(simulator) -> Iterator[ForwardingProxy]:
    forwarding = ForwardingProxy(simulator.url)
    yield forwarding
    forwarding.close()


def statuses(url: str, hashes: list[str], **settings: object) -> list[str]:
    with SpectraAnalyzeClient(Config(url=url, token=TOKEN, **settings)) as client:
        return [record["status"] for record in run_lookup("get_report", {"hashes": hashes}, client).records]


def test_a_netrc_login_for_the_appliance_never_replaces_the_token(environment, tmp_path, simulator, corpus):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-the-token\n", encoding="utf-8")
    netrc.chmod(0o600)
    environment.setenv("NETRC", str(netrc))
    assert statuses(simulator.url, corpus.hashes("sha1")[:2]) == ["found", "found"]


def test_the_proxy_variables_apply_when_no_proxy_is_configured(environment, simulator, proxy, corpus):
    environment.setenv("HTTP_PROXY", proxy.url)
    assert statuses("http://appliance.invalid", corpus.hashes("sha1")[:2]) == ["found", "found"]
    assert proxy.targets == ["http://appliance.invalid/api/samples/v2/list/"]
    assert simulator.requests_served == 1


def test_no_proxy_and_a_configured_proxy_take_precedence(environment, simulator, proxy, corpus):
    environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    environment.setenv("NO_PROXY", "127.0.0.1")
    assert statuses(simulator.url, corpus.hashes("sha1")[:1]) == ["found"]
    assert statuses("http://appliance.invalid", corpus.hashes("sha1")[:1], proxy=proxy.url) == ["found"]
    assert proxy.targets == ["http://appliance.invalid/api/samples/v2/list/"]


def test_requests_ca_bundle_verifies_the_appliance_when_ca_bundle_is_not_set(environment, tmp_path, corpus):
    (tmp_path / "ca").mkdir()
    authority = Authority(tmp_path / "ca")
    with Simulator(TOKEN, corpus=corpus, tls=authority.server_context()) as https:
        environment.setenv("REQUESTS_CA_BUNDLE", str(authority.bundle))
        assert statuses(https.url, corpus.hashes("sha1")[:1]) == ["found"]
