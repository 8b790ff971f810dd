import pytest

from connector.hashes import hash_type, invalid_reason, normalize, split_hashes


@pytest.mark.parametrize(
    "value, kind",
    [
        ("a" * 32, "md5"),
        ("0" * 40, "sha1"),
        ("f" * 64, "sha256"),
        ("1" * 128, "sha512"),
    ],
)
def test_each_length_has_its_type(value, kind):
    assert hash_type(value) == kind


@pytest.mark.parametrize(
    "value",
    [
        "a" * 31,
        "a" * 33,
        "g" * 40,
        "A" * 40,  # upper case is normalized before, never here
        "\u0661" * 40,  # Arabic-Indic digits: int(x, 16) would take them
        "ab cd" + "0" * 35,
        "0x" + "0" * 38,
        "",
        "a" * 96,
    ],
)
def test_anything_else_is_invalid(value):
    assert hash_type(value) is None


def test_normalize_trims_and_lowercases():
    assert normalize("  ABCDEF" + "0" * 34 + "\t") == "abcdef" + "0" * 34


def test_split_accepts_commas_whitespace_newlines_and_lists():
    assert split_hashes("a, b\nc\r\n d;e,,") == ["a", "b", "c", "d", "e"]
    assert split_hashes(["a,b", " c "]) == ["a", "b", "c"]
    assert split_hashes(None) == [] and split_hashes("  ,\n") == []


def test_split_keeps_order_and_duplicates():
    assert split_hashes("b,a,b") == ["b", "a", "b"]


def test_invalid_reason_says_what_is_expected():
    assert "SHA256 (64)" in invalid_reason("abc")
    assert invalid_reason("") == "empty hash"
