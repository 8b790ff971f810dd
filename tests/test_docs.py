"""The documentation's generated tables are current."""
from pathlib import Path

from connector.docs import SECTIONS, render

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def test_docs_tables_are_generated_from_the_schemas():
    for page in DOCS:
        text = page.read_text(encoding="utf-8")
        assert render(text) == text, f"run: python -m connector.docs {page.relative_to(ROOT)}"


def test_each_generated_table_has_one_page():
    texts = {page: page.read_text(encoding="utf-8") for page in [README, *DOCS]}
    for name in SECTIONS:
        holders = [page.name for page, text in texts.items() if f"<!-- BEGIN {name} -->" in text]
        assert len(holders) == 1, (name, holders)
    everything = "".join(texts.values())
    assert "`rl_threat_family`" in everything and "`av_scanners_summary`" in everything
    assert "`retry_deadline`" in everything
