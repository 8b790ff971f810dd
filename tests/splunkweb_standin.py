"""A stand-in for Splunk Web serving the app's configuration page on loopback,
for a real browser (headless Chromium):

- the page itself: the app's ``appserver/templates/base.html`` at
  ``/en-US/app/<app>/configuration``, the scripts it loads first
  (``/en-US/config``, ``i18n.js``, ``i18ncatalog``) and the app's static files
  (``/en-US/static/@<build>/app/<app>/...``);
- Splunk Web's REST proxy (``/en-US/splunkd/__raw/...``) for the endpoints the
  page's UCC handlers expose (``<app>_account``, ``<app>_settings/<tab>``),
  answering as the handlers do: an encrypted field comes back as ``******``,
  never its value. What the page saves is stored as the handlers store it
  (``splunk_harness.save_ucc_stanza``: the app's ``local/`` .conf files and
  the ``credentials`` of a ``SplunkdStandIn``), so that the search command can
  then be run on it; before an appliance is saved, the handler's check
  (``accounts.check_account``, what ``bin/spectra_analyze_account_check.py``
  runs) makes its read-only lookup, and a failure is answered 400 as
  splunktaucclib's ``RestError`` is.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from splunk_harness import UCC_ACCOUNT_CONF, UCC_SETTINGS_CONF, save_ucc_stanza

from connector.errors import SpectraAnalyzeError
from connector.splunk.accounts import check_account
from connector.splunk.conf import read_app_conf

ENCRYPTED = {UCC_ACCOUNT_CONF: ("api_token",), UCC_SETTINGS_CONF: ("proxy_password",)}
PLACEHOLDER = "******"
_I18N = (
    "window._ = function (text) { return text; }; window.gettext = window._;"
    "window.ungettext = function (one, many, n) { return n === 1 ? one : many; };"
    "window.sprintf = function (format) { var args = Array.prototype.slice.call(arguments, 1), i = 0;"
    " return String(format).replace(/%[sd]/g, function () { return String(args[i++]); }); };"
)


class SplunkWebStandIn:
    def __init__(self, app_dir: Path, credentials: dict[tuple, str]) -> None:
        self.app_dir = app_dir
        self.app = app_dir.name
        self.credentials = credentials
        self.requests: list[tuple[str, str, bytes]] = []  # method, target, body
        self.rest_answers: list[bytes] = []  # every answer of the REST proxy, as the page received it
        self.build = re.search(
            r"static/@(\d+)/", (app_dir / "appserver" / "templates" / "base.html").read_text(encoding="utf-8")
        ).group(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True

    @property
    def uri(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def page(self) -> str:
        return f"{self.uri}/en-US/app/{self.app}/configuration"

    def __enter__(self) -> SplunkWebStandIn:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, target: str, body: bytes) -> tuple[int, str, bytes]:
        """Status, content type and body."""
        self.requests.append((method, target, body))
        status, kind, answer = self._answer(method, target, body)
        if "/splunkd/__raw/" in target:
            self.rest_answers.append(answer)
        return status, kind, answer

    def _answer(self, method: str, target: str, body: bytes) -> tuple[int, str, bytes]:
        path = unquote(urlsplit(target).path)
        if path == f"/en-US/app/{self.app}/configuration":
            return 200, "text/html", (self.app_dir / "appserver" / "templates" / "base.html").read_bytes()
        if path == "/en-US/config":
            config = {
                "SPLUNKD_PATH": "/en-US/splunkd/__raw",
                "LOCALE": "en-US",
                "MRSPARKLE_ROOT_PATH": "",
                "BUILD_NUMBER": int(self.build),
                "MRSPARKLE_PORT_NUMBER": self._server.server_address[1],
                "BUILD_PUSH_NUMBER": 0,
                "USERNAME": "admin",
                "SERVER_ZONEINFO": "",
                "SPLUNKD_FREE_LICENSE": False,
                "VERSION_LABEL": "9.2.1",
                "APP": self.app,
                "DISPATCH_TIME_FORMAT": "%s.%Q",
            }
            return 200, "application/javascript", f"window.$C = {json.dumps(config)};".encode()
        if path.startswith("/en-US/static/@") and path.endswith("/js/i18n.js"):
            return 200, "application/javascript", _I18N.encode()
        if path == "/en-US/i18ncatalog":
            return 200, "application/javascript", b""
        static = re.fullmatch(rf"/en-US/static/@[^/]+/app/{re.escape(self.app)}/(.+)", path)
        if static:
            return self._static(static.group(1))
        rest = re.fullmatch(rf"/en-US/splunkd/__raw/servicesNS/[^/]+/{re.escape(self.app)}/(\w+)(?:/([^/]+))?", path)
        if rest and rest.group(1) in (UCC_ACCOUNT_CONF, UCC_SETTINGS_CONF):
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            return self._rest(method, rest.group(1), rest.group(2), form)
        return 404, "application/json", json.dumps({"messages": [{"type": "ERROR", "text": "Not Found"}]}).encode()

    def _static(self, relative: str) -> tuple[int, str, bytes]:
        root = (self.app_dir / "appserver" / "static").resolve()
        path = (root / relative).resolve()
        if root not in path.parents or not path.is_file():
            return 404, "text/plain", b"not found"
        kinds = {
            ".js": "application/javascript",
            ".css": "text/css",
            ".json": "application/json",
            ".png": "image/png",
            ".svg": "image/svg+xml",
        }
        return 200, kinds.get(path.suffix, "application/octet-stream"), path.read_bytes()

    def _rest(self, method: str, conf: str, name: Optional[str], form: dict[str, str]) -> tuple[int, str, bytes]:
        stanzas = {key: value for key, value in read_app_conf(self.app_dir, conf).items() if key != "default"}
        if method == "GET":
            chosen = {name: stanzas.get(name, {})} if name else stanzas
            return 200, "application/json", self._entries(conf, chosen)
        if method == "DELETE":
            return 405, "application/json", b"{}"
        fields = {key: value for key, value in form.items() if key not in ("name", "output_mode")}
        name = name or form.get("name", "")
        if conf == UCC_ACCOUNT_CONF:
            try:
                check_account(name, fields, self.app_dir)
            except SpectraAnalyzeError as err:
                message = f"REST Error [400]: Bad Request -- the appliance was not saved: {err}"
                return 400, "application/json", json.dumps({"messages": [{"type": "ERROR", "text": message}]}).encode()
        secrets = {key: fields.pop(key) for key in ENCRYPTED[conf] if fields.get(key) and fields[key] != PLACEHOLDER}
        merged = dict(stanzas.get(name, {}), **fields)
        for key in ENCRYPTED[conf]:
            merged.pop(key, None)
        save_ucc_stanza(self.app_dir, self.credentials, conf, name, merged, secrets or None)
        status = 201 if name not in stanzas else 200
        return status, "application/json", self._entries(conf, {name: read_app_conf(self.app_dir, conf)[name]})

    def _entries(self, conf: str, stanzas: dict[str, dict[str, str]]) -> bytes:
        entries = []
        for name, values in stanzas.items():
            content = dict(values)
            for key in ENCRYPTED[conf]:
                if key in content:
                    content[key] = PLACEHOLDER  # what the handlers answer: never the value
            content.setdefault("disabled", "0")
            entries.append(
                {
                    "name": name,
                    "id": f"/servicesNS/nobody/{self.app}/{conf}/{name}",
                    "content": content,
                    "acl": {"app": self.app, "owner": "nobody", "sharing": "app", "can_write": True, "removable": True},
                }
            )
        return json.dumps({"entry": entries, "paging": {"total": len(entries), "offset": 0}}).encode()


def _handler_for(standin: SplunkWebStandIn) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._reply(*standin.answer("GET", self.path, b""))

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._reply(*standin.answer("POST", self.path, body))

        def do_DELETE(self) -> None:  # noqa: N802
            self._reply(*standin.answer("DELETE", self.path, b""))

        def _reply(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8" if not kind.startswith("image") else kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
