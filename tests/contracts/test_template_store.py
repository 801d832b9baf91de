"""TemplateStore: versions numbered from 1 per name, each read back as written, the latest of
each name listed; on both stores."""

from __future__ import annotations

from fanmail.domain.render import TemplateParts
from tests.contracts.conftest import Stores


def test_versions_are_numbered_per_name_and_read_back(stores: Stores) -> None:
    templates = stores.templates
    first = TemplateParts("Hi {{ name }}", "<p>Ünïcode {{ name }}</p>")
    assert templates.get("welcome") is None and templates.latest() == []
    one = templates.add_version("welcome", first, 10.5)
    two = templates.add_version("welcome", TemplateParts("Hi", "<p>2</p>", "two"), 11.0)
    other = templates.add_version("another", first, 12.0)
    assert (one.version, two.version, other.version) == (1, 2, 1)
    assert two.reference == "welcome@v2"
    assert templates.get("welcome", 1) == one and templates.get("welcome") == two
    assert templates.get("welcome", 3) is None and templates.get("nope") is None
    assert templates.latest() == [other, two]
