"""``connector_tools.packaging``, what both app builders share, on real files:
pins, the wheel cache, the core copy, the pure check and the ``.tgz``.
The built apps themselves are tested in ``test_splunk_package.py`` and
``soar/test_soar_package.py``."""

from __future__ import annotations

import hashlib
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from connector.validation import schema_dir
from connector_tools.packaging import (
    BuildError,
    check_pure,
    copy_core,
    pinned_wheels,
    read_pins,
    unpack_wheel,
    write_tgz,
)


def make_wheel(folder: Path, name: str, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / name
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def pin_line(wheel: Path, marker: str = "") -> str:
    name, version = wheel.name.split("-")[:2]
    return f"{name}=={version}{marker} --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}"


@pytest.fixture
def offline(monkeypatch):
    """No package index and no pip configuration: a download fails at once."""
    for key in [key for key in os.environ if key.startswith("PIP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")


def test_pins_read_with_and_without_a_python_marker(tmp_path):
    pins = tmp_path / "vendor.txt"
    digest = "ab" * 32
    pins.write_text(
        f"# comment\n\nidna==3.20 --hash=sha256:{digest}\n"
        f'fastjsonschema==2.21.2 ; python_version == "3.9" --hash=sha256:{digest}\n'
    )
    assert [(pin.name, pin.version, pin.python) for pin in read_pins(pins)] == [
        ("idna", "3.20", None),
        ("fastjsonschema", "2.21.2", "3.9"),
    ]
    assert read_pins(pins)[1].requirement == f"fastjsonschema==2.21.2 --hash=sha256:{digest}"  # pip gets no marker

    pins.write_text("idna>=3\n")
    with pytest.raises(BuildError, match=r"vendor\.txt:1: expected 'name==version"):
        read_pins(pins)
    with pytest.raises(BuildError, match="cannot read the pins .*missing.txt"):
        read_pins(tmp_path / "missing.txt")


def test_each_python_gets_its_own_pins_from_the_cache_without_a_download(tmp_path, offline):
    cache = tmp_path / "cache"
    old = make_wheel(cache, "fastjsonschema-2.21.2-py3-none-any.whl", {"fastjsonschema/__init__.py": "OLD = 1\n"})
    new = make_wheel(cache, "fastjsonschema-2.22.3-py3-none-any.whl", {"fastjsonschema/__init__.py": "NEW = 1\n"})
    pins = tmp_path / "vendor.txt"
    pins.write_text(pin_line(old, ' ; python_version == "3.9"') + "\n" + pin_line(new, ' ; python_version == "3.13"'))
    assert pinned_wheels(pins, "3.9", cache, provided={"requests"}) == [old]
    assert pinned_wheels(pins, "3.13", cache, provided={"requests"}) == [new]

    with pytest.raises(BuildError, match=r"pins no wheel of fastjsonschema for Python 3\.12"):
        pinned_wheels(pins, "3.12", cache, provided={"requests"})
    with pytest.raises(BuildError, match="pins no wheel of requests for Python 3.9"):
        pinned_wheels(pins, "3.9", cache)
    with pytest.raises(BuildError, match="cannot use .* as the wheel cache"):
        pinned_wheels(pins, "3.9", old, provided={"requests"})  # a file, not a folder


@pytest.mark.slow
def test_a_cached_wheel_with_another_hash_is_not_taken(tmp_path, offline):
    cache = tmp_path / "cache"
    wheel = make_wheel(cache, "fastjsonschema-2.21.2-py3-none-any.whl", {"fastjsonschema/__init__.py": "\n"})
    pins = tmp_path / "vendor.txt"
    pins.write_text(pin_line(wheel))
    wheel.write_bytes(wheel.read_bytes() + b"changed")
    with pytest.raises(
        BuildError,
        match=r"could not download fastjsonschema==2\.21\.2 for Python 3\.9 into the "
        r"wheel cache .*put those wheels in the cache",
    ):
        pinned_wheels(pins, "3.9", cache, provided={"requests"})


def test_the_core_is_copied_without_what_the_app_leaves_out(tmp_path):
    target = tmp_path / "connector"
    copy_core(target, ("cli", "simulator", "soar/*.svg", "packaging.py"))
    copied = {path.relative_to(target).as_posix() for path in target.rglob("*")}
    assert {"__init__.py", "client.py", "soar/adapter.py", "splunk/command.py"} <= copied
    assert not [path for path in copied if path.split("/")[0] in ("cli", "simulator") or path.endswith(".svg")]
    assert "packaging.py" not in copied
    assert not [path for path in copied if "__pycache__" in path or path.endswith(".pyc")]
    assert {path for path in copied if path.startswith("schemas/")} == {
        f"schemas/{path.name}" for path in schema_dir().glob("*.json")
    }


def test_a_compiled_module_or_a_platform_wheel_stops_the_build(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "pure.py").write_text("\n")
    make_wheel(tmp_path / "wheels", "fastjsonschema-2.21.2-py3-none-any.whl", {})
    check_pure(tmp_path)

    make_wheel(tmp_path / "wheels", "rpds_py-0.20.0-cp39-cp39-manylinux_2_17_x86_64.whl", {})
    with pytest.raises(BuildError, match=r"compiled modules .*wheels/rpds_py-0\.20\.0-cp39"):
        check_pure(tmp_path)
    (tmp_path / "wheels" / "rpds_py-0.20.0-cp39-cp39-manylinux_2_17_x86_64.whl").unlink()
    (tmp_path / "lib" / "speedups.cpython-39-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    with pytest.raises(BuildError, match=r"compiled modules .*speedups\.cpython-39"):
        check_pure(tmp_path)


def test_a_wheel_unpacks_without_data_caches_and_left_out_paths(tmp_path):
    wheel = make_wheel(
        tmp_path,
        "sdk-1.0-py3-none-any.whl",
        {
            "sdk/__init__.py": "\n",
            "sdk/ai/model.py": "\n",
            "sdk/__pycache__/x.cpython-39.pyc": "",
            "sdk-1.0.data/scripts/tool": "\n",
            "sdk-1.0.dist-info/METADATA": "Name: sdk\n",
        },
    )
    unpack_wheel(wheel, tmp_path / "lib", leave_out=("sdk/ai/",))
    assert sorted(
        path.relative_to(tmp_path / "lib").as_posix() for path in (tmp_path / "lib").rglob("*") if path.is_file()
    ) == ["sdk-1.0.dist-info/METADATA", "sdk/__init__.py"]

    unsafe = make_wheel(tmp_path, "evil-1.0-py3-none-any.whl", {"../outside.py": "\n"})
    with pytest.raises(BuildError, match="unsafe path"):
        unpack_wheel(unsafe, tmp_path / "lib")
    assert not (tmp_path / "outside.py").exists()


def test_the_tgz_is_reproducible_sorted_and_clean(tmp_path):
    stage = tmp_path / "app"
    (stage / "bin" / "__pycache__").mkdir(parents=True)
    (stage / "bin" / "__pycache__" / "run.cpython-39.pyc").write_bytes(b"\0")
    (stage / "bin" / "run.py").write_text("print()\n")
    (stage / "bin" / "run.py").chmod(0o700)
    (stage / "a.conf").write_text("[x]\n")
    first = write_tgz(stage, tmp_path / "one" / "app.tgz")
    os.utime(stage / "a.conf", (1_000_000, 1_000_000))
    (stage / "bin").chmod(0o700)
    second = write_tgz(stage, tmp_path / "two" / "app.tgz")
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as archive:
        members = archive.getmembers()
    assert [member.name for member in members] == ["app", "app/a.conf", "app/bin", "app/bin/run.py"]
    assert [oct(member.mode) for member in members] == ["0o755", "0o644", "0o755", "0o644"]
    assert {(member.mtime, member.uid, member.gid, member.uname) for member in members} == {(0, 0, 0, "")}


def test_an_unwritable_output_is_a_build_error(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "taken").write_text("a file, not a folder\n")
    with pytest.raises(BuildError, match="cannot write"):
        write_tgz(tmp_path / "app", tmp_path / "taken" / "app.tgz")
