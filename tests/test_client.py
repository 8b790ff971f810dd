"""Request building, retries and error mapping (requests-mock: no transport)."""

import http.server
import json
import logging
import random
import threading
import time

import pytest
import requests

from connector.client import LIST_PATH, SpectraAnalyzeClient
from connector.config import Config
from connector.errors import (
    AuthenticationError,
    BadRequestError,
    EndpointNotFoundError,
    MalformedResponseError,
    RateLimitedError,
    SchemaViolationError,
    ServerError,
    TransportError,
)
from connector.lookup import Question, lookup
from connector.retry import RetryPolicy

BASE = "https://a1000.example.com"
URL = BASE + LIST_PATH
TOKEN = "sentinel-token-5f3c9a1e7d"
SHA1 = "3ecb56536b58d2e2ec0779d1c28a9f20024d6b66"
PAGE = {"count": 1, "next": None, "previous": None, "results": [{"sha1": SHA1, "classification": "malicious"}]}


def make_client(fake_time, **settings):
    config = Config(url=BASE, token=TOKEN, **settings)
    return SpectraAnalyzeClient(
        config, clock=fake_time.clock, sleep=fake_time.sleep, wall_clock=fake_time.clock, rng=random.Random(7)
    )


def test_request_carries_token_json_body_and_explicit_booleans(requests_mock, fake_time):
    requests_mock.post(URL, json=PAGE)
    items = make_client(fake_time).list_samples([SHA1], ["classification", "sha1"])
    assert items == PAGE["results"]
    sent = requests_mock.last_request
    assert sent.headers["Authorization"] == f"Token {TOKEN}"
    assert sent.headers["User-Agent"].startswith("spectra-analyze-connector/")
    assert json.loads(sent.body) == {
        "hash_values": [SHA1],
        "fields": ["classification", "sha1"],
        "skip_reanalysis": "true",
        "include_networkthreatintelligence": "false",
    }
    assert sent.timeout == (5.0, 60.0) and sent.verify not in (False, None)


def test_ca_bundle_and_opt_out_reach_every_request(requests_mock, fake_time, tmp_path, caplog):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    requests_mock.post(URL, json=PAGE)
    make_client(fake_time, ca_bundle=str(bundle)).list_samples([SHA1])
    assert requests_mock.last_request.verify == str(bundle)
    with caplog.at_level(logging.WARNING):
        make_client(fake_time, verify_tls=False).list_samples([SHA1], skip_reanalysis=False)
    assert requests_mock.last_request.verify is False
    assert json.loads(requests_mock.last_request.body)["skip_reanalysis"] == "false"
    assert "TLS certificate verification is OFF" in caplog.text


def test_429_with_retry_after_then_200_succeeds_after_the_wait(requests_mock, fake_time):
    requests_mock.post(
        URL, [{"status_code": 429, "headers": {"Retry-After": "7"}, "json": {"detail": "busy"}}, {"json": PAGE}]
    )
    assert make_client(fake_time).list_samples([SHA1]) == PAGE["results"]
    assert fake_time.sleeps == [7.0]


def test_retry_after_is_capped(requests_mock, fake_time):
    requests_mock.post(URL, [{"status_code": 503, "headers": {"Retry-After": "86400"}}, {"json": PAGE}])
    make_client(fake_time).list_samples([SHA1])
    assert fake_time.sleeps == [30.0]


def test_backoff_is_jittered_exponential_and_bounded(requests_mock, fake_time):
    requests_mock.post(URL, status_code=502, text="bad gateway")
    client = make_client(fake_time, retry=RetryPolicy(max_attempts=5, backoff_base=1, backoff_max=4))
    with pytest.raises(ServerError) as err:
        client.list_samples([SHA1])
    assert requests_mock.call_count == 5 and err.value.attempts == 5
    assert [0 <= wait <= bound for wait, bound in zip(fake_time.sleeps, [1, 2, 4, 4])] == [True] * 4
    assert len(set(fake_time.sleeps)) == 4  # jittered
    assert "gave up after 5 attempt(s)" in str(err.value) and "HTTP 502: bad gateway" in str(err.value)


def test_the_deadline_stops_retries_before_the_attempt_limit(requests_mock, fake_time):
    requests_mock.post(URL, status_code=429, headers={"Retry-After": "20"})
    client = make_client(fake_time, retry=RetryPolicy(max_attempts=10, deadline=50))
    with pytest.raises(RateLimitedError) as err:
        client.list_samples([SHA1])
    assert fake_time.sleeps == [20.0, 20.0] and err.value.attempts == 3
    assert "lower batch_size or max_connections" in str(err.value)


@pytest.mark.parametrize(
    "status, error",
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, EndpointNotFoundError),
        (500, ServerError),
    ],
)
def test_errors_that_are_never_retried(requests_mock, fake_time, status, error):
    requests_mock.post(URL, status_code=status, json={"detail": "Invalid token."})
    with pytest.raises(error) as err:
        make_client(fake_time).list_samples([SHA1])
    assert requests_mock.call_count == 1 and fake_time.sleeps == []
    assert err.value.status == status and TOKEN not in str(err.value)


def test_403_message_says_what_to_fix_and_scrubs_an_echoed_token(requests_mock, fake_time):
    requests_mock.post(URL, status_code=403, text=f"Invalid token: {TOKEN}")
    with pytest.raises(AuthenticationError) as err:
        make_client(fake_time).list_samples([SHA1])
    assert str(err.value) == (
        f"the appliance refused the API token (HTTP 403: Invalid token: ***); check the token configured for {BASE}"
    )


def test_connection_errors_are_retried(requests_mock, fake_time):
    requests_mock.post(URL, [{"exc": requests.exceptions.ConnectionError("refused")}, {"json": PAGE}])
    assert make_client(fake_time).list_samples([SHA1]) == PAGE["results"]
    assert len(fake_time.sleeps) == 1


def test_connection_errors_past_the_budget(requests_mock, fake_time):
    requests_mock.post(URL, exc=requests.exceptions.ConnectTimeout("slow"))
    with pytest.raises(TransportError) as err:
        make_client(fake_time, retry=RetryPolicy(max_attempts=2)).list_samples([SHA1])
    assert str(err.value).startswith(f"could not reach {BASE}: connection timed out (gave up after 2 attempt(s)")


def test_a_redirect_is_not_followed(requests_mock, fake_time):
    requests_mock.post(URL, status_code=302, headers={"Location": "https://evil.example.net/collect"})
    with pytest.raises(MalformedResponseError) as err:
        make_client(fake_time).list_samples([SHA1])
    assert requests_mock.call_count == 1 and "redirected the request to evil.example.net" in str(err.value)


@pytest.mark.parametrize(
    "body, error, message",
    [
        ("<html>oops</html>", MalformedResponseError, "the appliance's answer is not JSON: <html>oops</html>"),
        ('{"count": 1}', SchemaViolationError, "does not match the documented format: missing results"),
        ('{"results": {}}', SchemaViolationError, "results must be array"),
    ],
)
def test_malformed_answers(requests_mock, fake_time, body, error, message):
    requests_mock.post(URL, text=body)
    with pytest.raises(error) as err:
        make_client(fake_time).list_samples([SHA1])
    assert message in str(err.value)


@pytest.mark.parametrize(
    "raw, name",
    [
        (b'"Win32.\\ud800.T\\u00e9st"', "Win32.\ufffd.Tést"),  # a lone escape
        (b'"Win32.\\uDFFF\\uD83E\\uDDA0"', "Win32.\ufffd🦠"),  # a lone low one, then a pair
        ('"Win32.\ud800.悪意"'.encode("utf-8", "surrogatepass"), "Win32.\ufffd.悪意"),  # a surrogate's bytes
        ('"한국어 \\ud55c"'.encode(), "한국어 한"),  # Hangul starts with byte 0xED too: left as it is
    ],
)
def test_lone_surrogates_in_an_answer_become_replacement_characters(requests_mock, fake_time, raw, name):
    # no adapter could write them as UTF-8 (the Splunk command's reply, the CLI's table)
    requests_mock.post(
        URL,
        content=b'{"count": 1, "next": null, "results": [{"sha1": "%s", "classification_result": '
        b'%s, "\\udc80key": 1}]}' % (SHA1.encode(), raw),
    )
    item = make_client(fake_time).list_samples([SHA1])[0]
    assert item["classification_result"] == name and item["\ufffdkey"] == 1


def test_the_response_size_is_capped(requests_mock, fake_time):
    requests_mock.post(URL, text=json.dumps(dict(PAGE, padding="x" * 5000)))
    with pytest.raises(MalformedResponseError) as err:
        make_client(fake_time, max_response_bytes=1000).list_samples([SHA1])
    assert "larger than 1000 bytes" in str(err.value)


def test_a_body_declared_too_large_is_refused_before_it_is_read():
    """A server that declares 1 TB and sends nothing: refused at once,
    not after read_timeout, and asked once."""
    asked = []

    class Declares(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
            self.wfile.flush()
            time.sleep(2)

        def log_message(self, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Declares) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        config = Config(url=f"http://127.0.0.1:{server.server_address[1]}", token=TOKEN, read_timeout=30)
        started = time.monotonic()
        with SpectraAnalyzeClient(config) as client, pytest.raises(MalformedResponseError) as err:
            client.list_samples([SHA1])
        server.shutdown()
    assert "larger than" in str(err.value) and time.monotonic() - started < 10 and len(asked) == 1


def test_next_is_followed_on_the_same_host(requests_mock, fake_time):
    second = {"count": 2, "next": None, "results": [{"sha1": "b" * 40}]}
    requests_mock.post(URL, json=dict(PAGE, next=f"{URL}?page=2"))
    requests_mock.post(f"{URL}?page=2", json=second)
    items = make_client(fake_time).list_samples([SHA1, "b" * 40])
    assert [item["sha1"] for item in items] == [SHA1, "b" * 40]


def test_a_looping_next_is_stopped(requests_mock, fake_time):
    requests_mock.post(URL, json=dict(PAGE, next=f"{URL}?page=2"))
    requests_mock.post(f"{URL}?page=2", json=dict(PAGE, next=f"{URL}?page=2"))
    with pytest.raises(MalformedResponseError, match="already read"):
        make_client(fake_time).list_samples([SHA1])
    assert requests_mock.call_count == 2


def test_next_is_bounded(requests_mock, fake_time):
    requests_mock.post(URL, json=dict(PAGE, next=f"{URL}?page=2"))
    requests_mock.post(f"{URL}?page=2", json=dict(PAGE, next=f"{URL}?page=3"))
    requests_mock.post(f"{URL}?page=3", json=dict(PAGE, next=f"{URL}?page=4"))
    with pytest.raises(MalformedResponseError, match="more than 3 pages"):
        make_client(fake_time, max_pages=3).list_samples([SHA1])


def test_next_to_another_host_is_refused(requests_mock, fake_time):
    requests_mock.post(URL, json=dict(PAGE, next="https://other.example.net/page2"))
    with pytest.raises(MalformedResponseError, match="another host"):
        make_client(fake_time).list_samples([SHA1])
    assert requests_mock.call_count == 1


def test_repr_shows_no_token(fake_time):
    assert TOKEN not in repr(make_client(fake_time))


def test_one_watchdog_thread_times_every_answer_and_ends_with_the_client(simulator, corpus):
    """Answers read over several connections share one watchdog thread,
    started with the first answer; closing the client ends it."""
    hashes = corpus.hashes("sha1")[:120]

    def watchdogs() -> set[threading.Thread]:
        return {thread for thread in threading.enumerate() if thread.name == "spectra-watchdog"}

    before = watchdogs()
    with SpectraAnalyzeClient(Config(url=simulator.url, token=TOKEN, batch_size=10)) as client:
        answers = [answer for batch in lookup(client, hashes, Question(fields=("sha1",))) for answer in batch]
        started = watchdogs() - before
        assert len(answers) == len(hashes) and simulator.requests_served == 12 and len(started) == 1
    (thread,) = started
    thread.join(5)
    assert not thread.is_alive()
