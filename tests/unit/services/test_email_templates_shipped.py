"""The shipped templates, filters, template analysis and reports, previews, and safety."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import jinja2
import pytest

from fanmail.domain.addresses import ascii_address, normalise_email, unicode_address
from fanmail.domain.campaign import Requirement
from fanmail.domain.codec import encode_fields
from fanmail.domain.errors import InvalidInput, TemplateProblem
from fanmail.domain.model import Subscriber
from fanmail.domain.render import TemplateRenderer, format_date, initials, money, render_context
from fanmail.services.preview import preview_message, template_report
from fanmail_local.cli import main
from fanmail_local.harness import MemoryStack, with_settings
from tests.conftest import TEMPLATES, new_campaign, seed

SHIPPED = ("newsletter", "announcement", "notice")


def renderer() -> TemplateRenderer:
    return TemplateRenderer(jinja2.FileSystemLoader(str(TEMPLATES)))


def context(variables: dict[str, str] | None = None, **attributes: str) -> dict[str, object]:
    return render_context(
        campaign_id="c1",
        variables=variables or {},
        email="zoe@example.com",
        attributes=attributes,
        extras={"unsubscribe_url": "https://lists.example/u/t0ken"},
    )


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_templates_render_with_and_without_optional_values(name: str) -> None:
    bare = renderer().compile(name).render(context())
    assert bare.subject and "<table" in bare.html and bare.text.strip()
    assert (
        "https://lists.example/u/t0ken" in bare.html
        and "https://lists.example/u/t0ken" in bare.text
    )
    full = (
        renderer()
        .compile(name)
        .render(
            context(
                {
                    "cta_url": "https://x.example/go",
                    "effective_date": "2027-01-01",
                    "amount": "9",
                    "date": "2026-11-26",
                },
                first_name="Zoë",
            )
        )
    )
    assert "Zoë" in full.html and "Zoë" in full.text
    assert 'style="' in full.html  # inlined CSS, no stylesheet to strip


def test_button_macro_is_included() -> None:
    html = (
        renderer().compile("newsletter").render(context({"cta_url": "https://x.example/go"})).html
    )
    assert 'bgcolor="#1f4e79"' in html and 'href="https://x.example/go"' in html


def test_filters() -> None:
    assert money("1234.5") == "1,234.50 EUR" and money("12", "USD") == "12.00 USD"
    assert money("n/a") == "n/a"
    assert format_date("2026-12-01") == "1 December 2026" and format_date("soon") == "soon"
    assert initials("Ada  Lovelace") == "AL"
    rendered = renderer().compile("announcement").render(context({"message": "a\n<b>"}))
    assert "a<br>\n&lt;b&gt;" in rendered.html


def test_usage_tells_required_from_guarded(template_dir: Path) -> None:
    folder = template_dir / "t"
    folder.mkdir()
    (folder / "subject.txt.j2").write_text("Hi {{ first_name }}")
    (folder / "body.html.j2").write_text(
        "{{ plan | default('basic') }}{% if city is defined %}{{ city }}{% endif %}"
        "{{ subscriber.code }}{% set local = 1 %}{{ local }}"
    )
    usage = TemplateRenderer(jinja2.FileSystemLoader(str(template_dir))).usage("t")
    assert usage == {"first_name": True, "plan": False, "city": False, "code": True}


REQUIRED = Requirement.REQUIRED


def test_template_report_lists_who_lacks_what(stack: MemoryStack, template_dir: Path) -> None:
    folder = template_dir / "t"
    folder.mkdir()
    (folder / "subject.txt.j2").write_text("For {{ first_name }}")
    (folder / "body.html.j2").write_text("{{ team | default('') }}{{ plan }}")
    stack = with_settings(stack, templates_dir=template_dir)
    stack.subscribers.put_many(
        [
            Subscriber("l", f"u{i}@example.com", attributes={"first_name": "A", "plan": "p"})
            for i in range(3)
        ]
        + [Subscriber("l", "x@example.com", attributes={"first_name": "B"})]
    )
    report = template_report(
        stack.app.renderer,
        template="t",
        subject=None,
        variables={"team": "T"},
        subscribers=stack.subscribers,
        list_id="l",
    )
    assert report.attributes == {"first_name": REQUIRED, "plan": REQUIRED}
    assert report.missing == {"plan": 1}
    assert report.examples == {"plan": ("x@example.com",)}
    assert report.using_fallbacks == 0
    assert report.scanned == 4 and report.complete
    assert encode_fields(report) == {  # as the API shows it
        "template": "t",
        "attributes": {"first_name": "required", "plan": "required"},
        "subscribers_scanned": 4,
        "whole_list_scanned": True,
        "subscribers_missing": {"plan": 1},
        "examples_missing": {"plan": ["x@example.com"]},
        "subscribers_using_fallbacks": 0,
    }


def test_campaign_creation_stores_the_report(stack: MemoryStack) -> None:
    seed(stack, 3)
    campaign = new_campaign(stack)
    report = campaign.template_report
    assert report is not None
    assert report.attributes["first_name"] is Requirement.OPTIONAL
    required = [k for k, kind in report.attributes.items() if kind is REQUIRED]
    assert report.missing == {k: 3 for k in required}
    assert report.using_fallbacks == 3  # one figure, never listed as missing
    assert set(report.examples) == set(required)


def test_preview_is_what_a_sender_builds(stack: MemoryStack) -> None:
    subscriber = Subscriber("news", "ada@example.com", attributes={"first_name": "Ada"})
    preview = preview_message(
        stack.app.renderer,
        stack.app.links,
        stack.ports.clock,
        template="notice",
        sender="Fanmail <news@fanmail.example>",
        subscriber=subscriber,
    )
    message = email.message_from_bytes(preview.eml, policy=email.policy.default)
    assert message["To"] == "ada@example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hello Ada" in preview.html and "Hello Ada" in preview.text
    with pytest.raises(TemplateProblem, match="not found"):
        preview_message(
            stack.app.renderer,
            stack.app.links,
            stack.ports.clock,
            template="nope",
            sender="a@fanmail.example",
            subscriber=subscriber,
        )


def test_preview_command_writes_three_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ["--out", str(tmp_path), "--var", "headline=Hi"]
    assert main(["preview", "newsletter", "--sample", *out, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sorted(Path(f).name for f in result["files"]) == [
        "newsletter.eml",
        "newsletter.html",
        "newsletter.txt",
    ]
    assert "Hi" in (tmp_path / "newsletter.html").read_text()
    assert main(["preview", "newsletter", "--var", "not a pair"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert main(["preview", "missing-template", "--out", str(tmp_path)]) == 2


SSTI = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ self._TemplateReference__context }}",
    "{{ request.application.__globals__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
]


@pytest.mark.parametrize("payload", SSTI)
def test_template_injection_cannot_reach_python_internals(template_dir: Path, payload: str) -> None:
    folder = template_dir / "evil"
    folder.mkdir()
    (folder / "subject.txt.j2").write_text("s")
    (folder / "body.html.j2").write_text(payload)
    compiled = TemplateRenderer(jinja2.FileSystemLoader(str(template_dir))).compile("evil")
    with pytest.raises(TemplateProblem) as info:
        compiled.render({})
    assert "SecurityError" in str(info.value) or "UndefinedError" in str(info.value)


def test_subscriber_data_is_data_not_template_code() -> None:
    rendered = (
        renderer()
        .compile("newsletter")
        .render(context(first_name="{{ 7*7 }}<img src=x onerror=alert(1)>"))
    )
    assert "{{ 7*7 }}" in rendered.html and "49" not in rendered.html
    assert "<img" not in rendered.html and "&lt;img src=x onerror=alert(1)&gt;" in rendered.html


def test_internationalised_addresses_are_normalised() -> None:
    assert normalise_email("Zoe@Exämple.COM") == "zoe@exämple.com"
    assert normalise_email("user@xn--exmple-cua.com") == "user@exämple.com"
    assert ascii_address("zoe@exämple.com") == "zoe@xn--exmple-cua.com"  # as SES takes it
    assert unicode_address("Zoe@XN--EXMPLE-CUA.com") == "zoe@exämple.com"  # as SES reports it
    with pytest.raises(InvalidInput, match="SES cannot send"):
        normalise_email("Zoë@example.com")
    with pytest.raises(InvalidInput, match="line break"):
        normalise_email("a@example.com\r\nBcc: b@example.com")
