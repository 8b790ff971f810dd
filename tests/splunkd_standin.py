"""A stand-in for splunkd's REST API on loopback: only what a search command
reads with the search's session, ``storage/passwords`` entries, answered as
splunkd answers them (Atom XML, 401 for a bad session, 404 for a missing
entry, 403 when the user may not list passwords); and the REST receiver
``receivers/simple`` an alert action writes events through (``received``
keeps each request's query and body; ``receiver_status`` makes it refuse,
``receiver_fault`` answer ``"nothing"`` (the connection closed) or ``"garbage"``
(no HTTP status line), both after the first ``receiver_fails_after`` requests).

And, when given a ``KVStore`` (``kvstore_standin.py``: one may be shared by the
stand-ins of several cluster members), the KV store's
``storage/collections/data`` endpoints, and ``server/info`` with its
``server_roles``.

    with SplunkdStandIn("session-key", {("spectra_analyze", "spectra_analyze", "api_token"): token}) as splunkd:
        splunkd.uri        # searchinfo.splunkd_uri
        splunkd.requests   # (method, path) of every request
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

Credentials = dict[tuple[str, str, str], str]  # (app, realm, username) -> clear password
_ATOM = "http://www.w3.org/2005/Atom"
_REST = "http://dev.splunk.com/ns/rest"


class SplunkdStandIn:
    def __init__(
        self,
        session_key: str,
        credentials: Optional[Credentials] = None,
        *,
        deny_status: Optional[int] = None,
        receiver_status: Optional[int] = None,
        receiver_fault: Optional[str] = None,
        receiver_fails_after: int = 0,
        kvstore: Any = None,
        server_roles: Sequence[str] = ("search_head", "kv_store"),
    ) -> None:
        self.session_key = session_key
        self.credentials = dict(credentials or {})
        self.deny_status = deny_status
        self.receiver_status = receiver_status
        self.receiver_fault = receiver_fault
        self.receiver_fails_after = receiver_fails_after
        self.receiver_requests = 0
        self.kvstore = kvstore
        self.server_roles = list(server_roles)
        self.requests: list[tuple[str, str]] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True

    @property
    def uri(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> SplunkdStandIn:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="splunkd-standin", daemon=True
        ).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(
        self, method: str, path: str, authorization: Optional[str], body: bytes = b""
    ) -> tuple[Optional[int], str]:
        """Status and body of the answer; a status of None: the body alone, no HTTP."""
        self.requests.append((method, path))
        if authorization != f"Splunk {self.session_key}":
            return 401, _messages("call not properly authenticated")
        route = urlsplit(path).path.strip("/").split("/")
        if self.kvstore is not None and route[3:6] == ["storage", "collections", "data"]:
            return self.kvstore.answer(method, route[2], route[6:], dict(parse_qsl(urlsplit(path).query)), body)
        if method == "GET" and route == ["services", "server", "info"]:
            return 200, json.dumps(
                {"entry": [{"name": "server-info", "content": {"server_roles": self.server_roles, "version": "9.2.1"}}]}
            )
        if method == "POST" and urlsplit(path).path == "/services/receivers/simple":
            return self._receive(dict(parse_qsl(urlsplit(path).query)), body)
        parts = urlsplit(path).path.strip("/").split("/")
        if method == "GET" and len(parts) == 5 and parts[0] == "servicesNS" and parts[3:5] == ["storage", "passwords"]:
            return self._list_passwords(parts[2], dict(parse_qsl(urlsplit(path).query)))
        if method != "GET" or len(parts) != 6 or parts[0] != "servicesNS" or parts[3:5] != ["storage", "passwords"]:
            return 404, _messages(f"no such endpoint: {path}")
        if self.deny_status:
            return self.deny_status, _messages("you do not have the capability list_storage_passwords")
        owner, app, name = parts[1], parts[2], unquote(parts[5])
        realm, _, rest = name.partition(":")
        username = rest[:-1] if rest.endswith(":") else rest
        password = self.credentials.get((app, realm, username))
        if password is None:
            return 404, _messages(f"Could not find object id={name}")
        return 200, _feed(self.uri, owner, app, realm, username, password)

    def _list_passwords(self, app: str, query: dict[str, str]) -> tuple[Optional[int], str]:
        """``storage/passwords?search=realm=...&output_mode=json``, as solnlib lists
        a realm: splunkd's search matches the term anywhere in an entry."""
        if self.deny_status:
            return self.deny_status, json.dumps(
                {"messages": [{"type": "ERROR", "text": "you do not have the capability list_storage_passwords"}]}
            )
        term = query.get("search", "")
        entries = [
            {
                "name": f"{realm}:{username}:",
                "acl": {"app": app, "owner": "nobody", "sharing": "app"},
                "content": {
                    "clear_password": password,
                    "encr_password": "$7$opaque",
                    "password": "********",
                    "realm": realm,
                    "username": username,
                },
            }
            for (owner_app, realm, username), password in sorted(self.credentials.items())
            if owner_app == app and term in f"realm={realm}:{username}:"
        ]
        return 200, json.dumps({"entry": entries, "paging": {"total": len(entries), "offset": 0}})

    def _receive(self, query: dict[str, str], body: bytes) -> tuple[Optional[int], str]:
        self.receiver_requests += 1
        if self.receiver_requests > self.receiver_fails_after:
            if self.receiver_fault:
                return None, {"nothing": "", "garbage": "<html>not HTTP</html>\r\n"}[self.receiver_fault]
            if self.receiver_status:
                return self.receiver_status, _messages(f"cannot write to index {query.get('index')}")
        self.received.append((query, body))
        fields = "".join(
            f'<field k="{escape(key)}"><value><text>{escape(value)}</text></value></field>'
            for key, value in (("_index", query.get("index", "main")), ("bytes", str(len(body))))
        )
        return (
            200,
            f'<?xml version="1.0" encoding="UTF-8"?>\n<response><results><result>{fields}</result>'
            "</results></response>\n",
        )


def _messages(text: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<response><messages><msg type="ERROR">{escape(text)}</msg>'
        "</messages></response>\n"
    )


def _keys(values: dict[str, str]) -> str:
    return "".join(f'<s:key name="{escape(key)}">{escape(value)}</s:key>' for key, value in values.items())


def _feed(base: str, owner: str, app: str, realm: str, username: str, password: str) -> str:
    name = f"{realm}:{username}:"
    path = f"/servicesNS/{owner}/{app}/storage/passwords/{name.replace(':', '%3A')}"
    acl = _keys({"app": app, "owner": owner, "sharing": "app", "modifiable": "1"})
    content = (
        _keys({"clear_password": password, "password": "********", "realm": realm, "username": username})
        + f'<s:key name="eai:acl"><s:dict>{acl}</s:dict></s:key>'
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="{_ATOM}" xmlns:s="{_REST}" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"<title>passwords</title><id>{base}/servicesNS/{owner}/{app}/storage/passwords</id>"
        "<updated>2024-01-01T00:00:00+00:00</updated><opensearch:totalResults>1</opensearch:totalResults>"
        f"<entry><title>{escape(name)}</title><id>{base}{path}</id><updated>2024-01-01T00:00:00+00:00</updated>"
        f'<link href="{path}" rel="alternate"/><author><name>{escape(owner)}</name></author>'
        f'<content type="text/xml"><s:dict>{content}</s:dict></content></entry></feed>\n'
    )


def _handler_for(standin: SplunkdStandIn) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._reply(*standin.answer("GET", self.path, self.headers.get("Authorization")))

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._reply(*standin.answer("POST", self.path, self.headers.get("Authorization"), body))

        def do_DELETE(self) -> None:  # noqa: N802
            self._reply(*standin.answer("DELETE", self.path, self.headers.get("Authorization")))

        def _reply(self, status: Optional[int], body: str) -> None:
            try:
                self._send(status, body)
            except (BrokenPipeError, ConnectionResetError):  # a client that gave up waiting (a slow KV store)
                self.close_connection = True

        def _send(self, status: Optional[int], body: str) -> None:
            data = body.encode("utf-8")
            if status is None:
                self.wfile.write(data)
                self.close_connection = True
                return
            self.send_response(status)
            kind = "application/json" if body[:1] in ("{", "[") else "text/xml"
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")  # as splunkd answers splunklib, which reads after closing
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
