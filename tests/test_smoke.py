from connector.actions import get_report


def test_report_over_http(simulator, client, corpus):
    sha1 = corpus.samples[0]["sha1"]
    result = get_report({"hashes": f"{sha1}, {'0' * 40}"}, client)
    assert [r["status"] for r in result.records] == ["found", "not_found"]
    assert result.records[0]["threat_name"] == "Win32.Backdoor.Prorat"
