"""Property-based tests: parsing of hashes, platform parameters and settings,
and flattening of reports generated from the response and result-item
schemas. No crash, and the invariants hold: one record per input hash,
statuses from the defined set, not_found never carries a verdict."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
import pytest
from helpers import TOKEN
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schema_strategies import from_schema

from connector.actions import STATUSES, build_records, distinct_errors, parse_request, run_lookup, summarize
from connector.client import SpectraAnalyzeClient
from connector.config import Config
from connector.errors import ConfigurationError, InputError
from connector.hashes import HASH_TYPES_BY_LENGTH, hash_type, normalize, split_hashes
from connector.lookup import match_items, plan_batches
from connector.params import parse_bool, parse_number, split_list
from connector.retry import RetryPolicy, parse_retry_after
from connector.simulator.faults import FAULTS, NO_FAULT, FaultSchedule
from connector.validation import load_schema, violation

HEX = "0123456789abcdef"
RECORD = jsonschema.Draft7Validator(load_schema("record"))
PARAMETER_NAMES = sorted(load_schema("action-parameters")["properties"])
SETTING_NAMES = [
    "url",
    "token",
    "verify_tls",
    "ca_bundle",
    "connect_timeout",
    "read_timeout",
    "proxy",
    "batch_size",
    "max_connections",
    "max_attempts",
    "retry_deadline",
]
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

hex_hashes = st.sampled_from(sorted(HASH_TYPES_BY_LENGTH)).flatmap(
    lambda length: st.text(HEX, min_size=length, max_size=length)
)
# What users paste: hashes in any case and padding, typos, digits from other scripts, junk.
pasted = st.one_of(
    hex_hashes,
    hex_hashes.map(str.upper),
    hex_hashes.map(lambda value: f"  {value}\t"),
    hex_hashes.map(lambda value: value[:-1]),
    hex_hashes.map(lambda value: value[:-1] + "\u0663"),
    st.text(max_size=140),
)
platform_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.text(max_size=30), max_size=4),
)


@given(pasted)
def test_a_hash_is_valid_exactly_when_it_is_ascii_hex_of_a_known_length(value):
    value = normalize(value)
    kind = hash_type(value)
    expected = len(value) in HASH_TYPES_BY_LENGTH and value.isascii() and all(ch in HEX for ch in value)
    assert (kind is not None) == expected
    if kind:
        assert kind == HASH_TYPES_BY_LENGTH[len(value)]


@given(
    st.lists(hex_hashes, max_size=20),
    st.lists(st.sampled_from([",", " ", "\n", ";", "\r\n", ", ", "\t"]), min_size=1, max_size=5),
)
def test_split_hashes_gives_back_what_was_joined_with_any_separators(hashes, separators):
    text = "".join(value + separators[index % len(separators)] for index, value in enumerate(hashes))
    assert split_hashes(text) == hashes
    assert split_hashes([text, ""]) == hashes


@given(st.one_of(st.text(), st.lists(st.text(), max_size=5)))
def test_split_hashes_never_yields_empty_or_separator_bearing_items(value):
    for item in split_hashes(value):
        assert item and not any(ch in item for ch in ", ;\n\t")


FIELD_NAMES = load_schema("action-parameters")["definitions"]["field"]["enum"]
# Parameters as a platform hands them over: hashes, and the optional ones
# set, unset (None, "") or left out. Alone, random dictionaries are refused
# nearly always and the parsed branch is never reached.
good_params = st.fixed_dictionaries(
    {
        "hashes": st.one_of(
            st.lists(pasted, min_size=1, max_size=6), st.lists(hex_hashes, min_size=1, max_size=6).map(", ".join)
        )
    },
    optional={
        "fields": st.one_of(st.none(), st.lists(st.sampled_from(FIELD_NAMES), max_size=4).map(",".join)),
        "skip_reanalysis": st.sampled_from([True, False, "true", "false", "", None]),
        "include_network_threat_intelligence": st.sampled_from([False, "false", "", None]),
    },
)
any_params = st.one_of(
    good_params,
    st.dictionaries(st.sampled_from(PARAMETER_NAMES + ["hash", "extra"]), platform_values, max_size=5),
    st.tuples(good_params, st.sampled_from(PARAMETER_NAMES + ["extra"]), platform_values).map(
        lambda spoilt: dict(spoilt[0], **{spoilt[1]: spoilt[2]})
    ),
)


def _parsed_or_refused(params, reached):
    """The request, or None when refused with a message; counts which branch ran."""
    try:
        request = parse_request(params)
    except InputError as err:
        assert str(err)
        reached["refused"] += 1
        return None
    reached["parsed"] += 1
    return request


def test_parameters_parse_or_fail_with_an_input_error():
    reached = Counter()

    @given(any_params)
    def check(params):
        request = _parsed_or_refused(params, reached)
        if request is None:
            return
        assert request.hashes and all(item.strip() for item in request.hashes)
        assert request.hashes == tuple(split_hashes(params["hashes"]))
        assert set(request.question.fields) <= set(FIELD_NAMES)

    check()
    assert reached["parsed"] >= 5 and reached["refused"] >= 5, reached  # both branches ran, often


@given(platform_values)
def test_booleans_numbers_and_lists_parse_or_fail_with_an_input_error(value):
    for parse in (
        lambda: parse_bool("flag", value, True),
        lambda: parse_number("size", value, 1, minimum=1, maximum=1000, integer=True),
        lambda: parse_number("seconds", value, 1.0, minimum=0.1, maximum=600),
    ):
        try:
            result = parse()
        except InputError:
            continue
        assert isinstance(result, (bool, int, float))
        if not isinstance(result, bool):
            assert result == result and (result == 1 or 0.1 <= result <= 1000)  # never NaN, always in range


@given(st.one_of(st.none(), st.text(max_size=40), st.lists(st.text(max_size=10), max_size=5)))
def test_split_list_gives_trimmed_non_empty_items(value):
    assert all(item and item == item.strip() for item in split_list(value))


# Settings as a platform hands them over (text, or typed as SOAR types them),
# within their bounds, unset, or anything at all.
good_settings = st.fixed_dictionaries(
    {"url": st.sampled_from(["https://a1000.example.com", "http://127.0.0.1:8000", "https://a1000.example.com/"])},
    optional={
        "verify_tls": st.sampled_from([True, False, "true", "false", "1", "0", ""]),
        "proxy": st.sampled_from(["", None, "http://proxy.example.com:3128"]),
        "connect_timeout": st.one_of(st.floats(0.1, 600), st.floats(0.1, 600).map(str), st.just("")),
        "read_timeout": st.one_of(st.floats(0.1, 3600), st.integers(1, 3600).map(float)),
        "batch_size": st.one_of(st.integers(1, 1000), st.integers(1, 1000).map(float), st.integers(1, 1000).map(str)),
        "max_connections": st.integers(1, 32),
        "max_attempts": st.integers(1, 10).map(float),
        "retry_deadline": st.floats(0, 3600),
    },
)
any_settings = st.one_of(
    good_settings,
    good_settings,
    st.dictionaries(st.sampled_from(SETTING_NAMES), st.one_of(st.text(max_size=40), platform_values), max_size=8),
    st.tuples(good_settings, st.sampled_from(SETTING_NAMES), st.one_of(st.text(max_size=40), platform_values)).map(
        lambda spoilt: dict(spoilt[0], **{spoilt[1]: spoilt[2]})
    ),
)


def test_settings_build_a_config_or_a_configuration_error_without_the_token():
    reached = Counter()

    @settings(deadline=None)
    @given(any_settings, st.sampled_from(["", "", "", "", "url", "proxy", "batch_size", "ca_bundle"]))
    def check(settings_, paste_into):
        settings_ = dict(settings_, token=TOKEN)
        if paste_into:
            settings_[paste_into] = f"{settings_.get(paste_into) or ''}{TOKEN}"
        try:
            config = Config.from_settings(settings_)
        except ConfigurationError as err:
            assert TOKEN not in str(err)
            reached["refused"] += 1
            return
        reached["built"] += 1
        assert not paste_into  # the token pasted into another setting is always refused
        assert TOKEN not in repr(config) and config.url.startswith(("http://", "https://"))
        assert 1 <= config.batch_size <= 1000 and 1 <= config.retry.max_attempts <= 10

    check()
    assert reached["built"] >= 5 and reached["refused"] >= 5, reached  # both branches ran, often


@given(st.one_of(st.text(max_size=40), st.integers(min_value=0).map(str)))
def test_retry_after_is_none_or_a_non_negative_number(value):
    seconds = parse_retry_after(value, now=1_700_000_000.0)
    assert seconds is None or seconds >= 0
    if seconds is not None:
        assert 0 <= RetryPolicy().delay(1, seconds, random.Random(1)) <= RetryPolicy().retry_after_cap


FAULT_NAMES = sorted(FAULTS) + [NO_FAULT]


@st.composite
def fault_plans(draw):
    """A plan and the faults it schedules; None for a plan that may be
    anything at all (misspelt names, bad counts, junk)."""
    entries = draw(st.lists(st.tuples(st.sampled_from(FAULT_NAMES), st.integers(0, 4)), max_size=4))
    forever = draw(st.one_of(st.none(), st.sampled_from(FAULT_NAMES)))
    texts = [f"{name}*{count}" if count != 1 or draw(st.booleans()) else name for name, count in entries]
    texts += [f"{forever}*"] if forever else []
    spec = draw(st.sampled_from([",", ", ", " , "])).join(texts)
    expected = [None if name == NO_FAULT else name for name, count in entries for _ in range(count)]
    after = None if forever in (None, NO_FAULT) else forever
    if draw(st.booleans()):
        return spec, (expected, after)
    junk = draw(
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(FAULT_NAMES).map(str.upper),
            st.sampled_from(["*", "*-1", "*x", "*\u0663", "*200000", "503*,ok", "50 3"]),
        )
    )
    return draw(st.sampled_from([junk, spec + junk, junk + "," + spec])), None


def test_fault_plans_parse_or_fail_with_a_value_error():
    reached = Counter()

    @settings(deadline=None)  # a plan with gzip-bomb makes the bomb once, when parsed
    @given(fault_plans())
    def check(plan):
        spec, expected = plan
        try:
            schedule = FaultSchedule.parse(spec)
        except ValueError as err:
            assert str(err) and expected is None  # a plan made of valid entries always parses
            reached["refused"] += 1
            return
        reached["parsed"] += 1
        if expected is not None:
            faults, after = expected
            assert [schedule.next_fault() for _ in range(len(faults) + 3)] == faults + [after] * 3

    check()
    assert reached["parsed"] >= 5 and reached["refused"] >= 5, reached  # both branches ran, often


# Reports generated from the schemas.

result_items = from_schema(load_schema("result-item"))
parameters = from_schema(load_schema("action-parameters"))


@QUICK
@given(
    st.sampled_from(["result-item", "response", "action-parameters"]).flatmap(
        lambda name: st.tuples(st.just(name), from_schema(load_schema(name)))
    )
)
def test_the_generators_make_what_the_schemas_accept(named):
    name, value = named
    assert violation(name, value) == ""


def test_schema_valid_parameters_parse_or_fail_with_an_input_error():
    reached = Counter()

    @QUICK
    @given(parameters)
    def check(params):
        request = _parsed_or_refused(params, reached)
        if request is None:
            return
        assert len(request.hashes) == len(split_hashes(params["hashes"]))

    check()
    assert reached["parsed"] >= 5 and reached["refused"] >= 5, reached  # both branches ran, often


@st.composite
def lookups(draw):
    """Input hashes, and the items an appliance answers with: a schema-valid
    item for some hashes (in any case, padded), maybe items for nobody, and
    maybe schema-invalid ones."""
    hashes = draw(st.lists(pasted, min_size=1, max_size=12))
    items = []
    for value in hashes:
        value = normalize(value)
        kind = hash_type(value)
        if kind and draw(st.booleans()):
            item = dict(draw(result_items))
            item[kind] = draw(st.sampled_from([value, value.upper(), f" {value} "]))
            items.append(item)
    if draw(st.integers(0, 9)) == 0:
        items.append(draw(result_items))  # matches no hash asked for: the unmatched ones become errors
    if draw(st.integers(0, 9)) == 0 and items:
        items[0] = dict(items[0], riskscore=draw(st.sampled_from(["high", -1, 11, 2.5])))
    return hashes, items


class AnswersFrom:
    """A lookup service whose appliance answers with ``items``: the core's own
    matching, batch by batch, without HTTP."""

    failure = None

    def __init__(self, items):
        self.items = items

    def answers(self, hashes, question):
        for kind, values in plan_batches(hashes, 100):
            yield match_items(kind, values, self.items)


def check_invariants(hashes, records, with_summary=False):
    assert len(records) == len(hashes)
    for given_value, record in zip(hashes, records):
        assert record["hash"] == (normalize(given_value) if hash_type(normalize(given_value)) else given_value.strip())
        assert record["status"] in STATUSES
        errors = list(RECORD.iter_errors(record))
        assert not errors, errors[0].message
        if record["status"] != "found":
            assert record["classification"] is None and record["riskscore"] is None
            assert record["threat_name"] is None and record["tags"] == []
        assert (record["error"] is not None) == (record["status"] in ("error", "invalid"))
        if with_summary:
            assert "indicators" in record


@QUICK
@given(lookups(), st.booleans())
def test_flattened_records_of_schema_generated_reports_keep_the_invariants(lookup, with_summary):
    hashes, items = lookup
    try:
        request = parse_request({"hashes": hashes}, with_summary=with_summary)
    except InputError:
        assume(False)
    records = build_records(request, AnswersFrom(items), with_summary)
    errors = distinct_errors(records)
    check_invariants(request.hashes, records, with_summary)
    by_hash = {}
    for item in items:
        for kind in ("md5", "sha1", "sha256", "sha512"):
            if isinstance(item.get(kind), str):
                by_hash.setdefault(item[kind].strip().lower(), []).append(item)
    for record in records:
        answered = by_hash.get(record["hash"], [])
        if record["status"] == "not_found":
            assert not answered  # a hash the appliance answered for never reads as not found
        classification = answered[0].get("classification") if len(answered) == 1 else None
        if record["status"] == "found" and isinstance(classification, str) and classification:
            assert record["classification"] == classification.lower()
    result = summarize("get_report", records, errors)
    assert result.summary["total"] == len(records) and sum(result.summary["by_status"].values()) == len(records)


class CannedAppliance:
    """A test server beside the simulator: answers every list request with
    the body the test sets, so generated responses cross real HTTP."""

    def __init__(self):
        self.body = b"{}"
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def canned():
    server = CannedAppliance()
    yield server
    server.close()


envelopes = from_schema(load_schema("response")).map(lambda page: dict(page, next=None))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(lookups(), envelopes, st.sampled_from(["items", "envelope", "junk"]))
def test_generated_responses_over_http_keep_the_invariants(canned, lookup, envelope, shape):
    hashes, items = lookup
    assume(any(hash_type(normalize(value)) for value in hashes))
    if shape == "items":
        body = dict(envelope, results=items)
    elif shape == "envelope":
        body = envelope  # results are any objects at all
    else:
        body = {"results": "not a list", "count": -1}
    canned.body = json.dumps(body).encode()
    config = Config(url=canned.url, token=TOKEN, retry=RetryPolicy(max_attempts=1))
    with SpectraAnalyzeClient(config) as client:
        result = run_lookup("get_report", {"hashes": hashes}, client)
    check_invariants(split_hashes(hashes), result.records)
    if shape == "junk":
        assert all(record["status"] in ("error", "invalid") for record in result.records)
