"""The README's table of what each shipped template reads is the templates' own list: a
variable added to a template, or dropped, fails here until the table says so."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from fanmail.domain.render import TemplateRenderer
from fanmail.settings import default_templates_dir

README = Path(__file__).resolve().parents[3] / "README.md"
FANMAILS_OWN = {"email", "list", "subject", "unsubscribe_url", "preferences_url"}
"""What fanmail gives every template itself (README: Names a template sees)."""


def documented() -> dict[str, set[str]]:
    rows = re.findall(
        r"^\| (`\w+`|each of them \(the layout\)) \| (.+) \|$", README.read_text(), re.M
    )
    return {name.strip("`"): set(re.findall(r"`(\w+)`", names)) for name, names in rows}


def test_each_shipped_template_reads_what_the_readme_lists() -> None:
    table = documented()
    layout = table.pop("each of them (the layout)")
    renderer = TemplateRenderer(jinja2.FileSystemLoader(str(default_templates_dir())))
    for name, listed in table.items():
        reads = set(renderer.compile(name).variables) - FANMAILS_OWN
        assert reads == listed | layout, name
    assert set(table) == {"newsletter", "announcement", "notice"}
