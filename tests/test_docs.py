"""The documentation: generated tables current, every relative link resolving,
and a README short enough to read in one screen."""

import re
from pathlib import Path

import pytest

from connector_tools.docs import SECTIONS, render
from connector_tools.splunk.build import APP_SOURCE

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [
    README,
    ROOT / "CONTRIBUTING.md",
    ROOT / "SECURITY.md",
    ROOT / "benchmarks" / "README.md",
    ROOT / "playbooks" / "README.md",
    APP_SOURCE / "README.md",
    *DOCS,
]
# [text](target): the text may wrap; a target has no spaces.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def test_docs_tables_are_generated_from_the_schemas():
    for page in [*DOCS, APP_SOURCE / "README.md"]:
        text = page.read_text(encoding="utf-8")
        assert render(text) == text, f"run: python -m connector_tools.docs {page.relative_to(ROOT)}"


def test_each_generated_table_has_one_page():
    texts = {page: page.read_text(encoding="utf-8") for page in PAGES}
    for name in SECTIONS:
        holders = [page.name for page, text in texts.items() if f"<!-- BEGIN {name} -->" in text]
        assert len(holders) == 1, (name, holders)
    everything = "".join(texts.values())
    assert "`rl_threat_family`" in everything and "`av_scanners_summary`" in everything
    assert "`retry_deadline`" in everything


def test_readme_fits_one_screen_of_reading():
    assert len(README.read_bytes()) <= 10 * 1024
    for page in DOCS:
        assert f"(docs/{page.name})" in README.read_text(encoding="utf-8"), f"README.md does not link {page.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_resolve(page):
    assert broken_links(page) == []


def test_the_splunk_app_readme_links_only_inside_the_app():
    """It ships in the app, where the repository around it is absent."""
    readme = APP_SOURCE / "README.md"
    for target in relative_links(readme.read_text(encoding="utf-8")):
        path = (readme.parent / target.split("#")[0]).resolve()
        assert path == APP_SOURCE or APP_SOURCE in path.parents, target


def test_the_link_checker_finds_a_broken_link_and_anchor(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# A `title`: here\n\n## Twice\n\n## Twice\n", encoding="utf-8")
    page.write_text(
        "[ok](other.md#a-title-here) [ok](other.md#twice-1) [wrapped\ntext](#self)\n\n# Self\n\n"
        "[gone](missing.md) [bad](other.md#nowhere) [web](https://example.com/x)\n"
        "```\n[in code](missing-too.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["missing.md", "other.md#nowhere"]


def broken_links(page: Path) -> list:
    broken = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        path_part, _, anchor = target.partition("#")
        path = (page.parent / path_part).resolve() if path_part else page
        if not path.exists() or (anchor and (path.is_dir() or anchor not in anchors(path))):
            broken.append(target)
    return broken


def relative_links(markdown: str) -> list:
    targets = LINK.findall(FENCE.sub("", markdown))
    return [target for target in targets if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def anchors(page: Path) -> set:
    """The anchors GitHub makes of a page's headings: lower case, punctuation
    dropped, spaces as hyphens, a repeated one numbered."""
    made, seen = set(), {}
    for heading in re.findall(r"^#{1,6} +(.+?) *$", FENCE.sub("", page.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        made.add(slug if count == 0 else f"{slug}-{count}")
    return made
