from pathlib import Path

from connector.docs import render

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_tables_are_generated_from_the_schemas():
    text = README.read_text()
    assert render(text) == text, "run: python -m connector.docs README.md"
    assert "`rl_threat_family`" in text and "`av_scanners_summary`" in text and "`retry_deadline`" in text
