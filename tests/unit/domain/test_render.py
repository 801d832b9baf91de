from __future__ import annotations

import time
from pathlib import Path

import jinja2
import pytest

from fanmail.domain.errors import TemplateProblem
from fanmail.domain.render import TemplateRenderer, html_to_text, one_line, render_context
from tests.conftest import TEMPLATES


def context(**attributes: str) -> dict[str, object]:
    return render_context(
        campaign_id="c1",
        variables={"brand": "Acme", "headline": "Hello"},
        email="ada@example.com",
        attributes=attributes,
    )


def write(directory: Path, name: str, **parts: str) -> None:
    folder = directory / name
    folder.mkdir()
    files = {"subject": "subject.txt.j2", "html": "body.html.j2", "text": "body.txt.j2"}
    for part, content in parts.items():
        (folder / files[part]).write_text(content)


@pytest.fixture
def shipped() -> TemplateRenderer:
    return TemplateRenderer(jinja2.FileSystemLoader(str(TEMPLATES)))


def test_shipped_newsletter_renders_personalised(shipped: TemplateRenderer) -> None:
    message = shipped.compile("newsletter").render(context(first_name="Ada"))
    assert message.subject == "Acme news: Hello"
    assert "Hello Ada," in message.html and "Hello Ada," in message.text
    assert "<table" in message.html and "<table" not in message.text


def test_available_lists_shipped_templates(shipped: TemplateRenderer) -> None:
    assert {"newsletter", "announcement"} <= set(shipped.available())


def test_precedence_builtins_over_attributes_over_variables() -> None:
    ctx = render_context(
        campaign_id="c1",
        variables={"city": "Oslo", "email": "spoof@x", "brand": "B"},
        email="real@example.com",
        attributes={"city": "Lima"},
    )
    assert ctx["city"] == "Lima" and ctx["email"] == "real@example.com"
    assert ctx["campaign"] == {"city": "Oslo", "email": "spoof@x", "brand": "B", "id": "c1"}


def test_html_is_autoescaped_text_is_not(template_dir: Path) -> None:
    write(template_dir, "t", subject="Hi {{ name }}", html="<p>{{ name }}</p>", text="{{ name }}")
    renderer = TemplateRenderer(jinja2.FileSystemLoader(str(template_dir)))
    payload = '<script>alert(1)</script>" onmouseover="x'
    message = renderer.compile("t").render({"name": payload})
    assert "<script>" not in message.html
    assert "&lt;script&gt;" in message.html and "&#34; onmouseover=&#34;x" in message.html
    assert message.text == payload


def test_subject_line_breaks_are_folded(template_dir: Path) -> None:
    write(template_dir, "t", subject="Hi {{ name }}", html="x")
    renderer = TemplateRenderer(jinja2.FileSystemLoader(str(template_dir)))
    message = renderer.compile("t").render({"name": "Eve\r\nBcc: victim@example.com"})
    assert "\r" not in message.subject and "\n" not in message.subject
    assert message.subject == "Hi Eve Bcc: victim@example.com"
    assert one_line(" a \t\n b ") == "a b"


def test_syntax_error_names_file_and_line(template_dir: Path) -> None:
    write(template_dir, "broken", subject="s", html="<p>ok</p>\n<p>{{ name }</p>")
    renderer = TemplateRenderer(jinja2.FileSystemLoader(str(template_dir)))
    with pytest.raises(TemplateProblem, match=r"broken/body\.html\.j2.*line 2"):
        renderer.compile("broken")


def test_undefined_variable_names_line(template_dir: Path) -> None:
    write(template_dir, "t", subject="s", html="<p>a</p>\n<p>b</p>\n{{ missing_thing }}")
    renderer = TemplateRenderer(jinja2.FileSystemLoader(str(template_dir)))
    with pytest.raises(TemplateProblem, match=r"line 3.*'missing_thing' is undefined"):
        renderer.compile("t").render({})


def test_sandbox_blocks_python_internals(template_dir: Path) -> None:
    write(
        template_dir,
        "ssti",
        subject="s",
        html="{{ ''.__class__.__mro__[1].__subclasses__() }}",
    )
    renderer = TemplateRenderer(jinja2.FileSystemLoader(str(template_dir)))
    with pytest.raises(TemplateProblem, match="SecurityError|unsafe"):
        renderer.compile("ssti").render({})


def test_missing_template_lists_known(shipped: TemplateRenderer) -> None:
    with pytest.raises(TemplateProblem, match=r"'nope' not found \(known: .*newsletter"):
        shipped.compile("nope")


@pytest.mark.parametrize("name", ["../etc", "a/b", "", "x" * 65, "_layouts/base"])
def test_bad_template_names(shipped: TemplateRenderer, name: str) -> None:
    with pytest.raises(TemplateProblem, match="not valid"):
        shipped.compile(name)


def test_missing_subject_file_is_reported(template_dir: Path) -> None:
    write(template_dir, "nosubject", html="x")
    renderer = TemplateRenderer(jinja2.FileSystemLoader(str(template_dir)))
    with pytest.raises(TemplateProblem, match="subject.txt.j2"):
        renderer.compile("nosubject")


def test_campaign_subject_override_and_errors(shipped: TemplateRenderer) -> None:
    message = shipped.compile("newsletter", "For {{ first_name }}").render(context(first_name="Li"))
    assert message.subject == "For Li"
    with pytest.raises(TemplateProblem, match="campaign subject"):
        shipped.compile("newsletter", "{{ oops")
    failing = shipped.compile("newsletter", "{{ 1 // 0 }}")  # fails only when rendered
    with pytest.raises(
        TemplateProblem, match=r"^template 'newsletter \(campaign subject\)', line 1"
    ):
        failing.render(context(first_name="Li"))


def test_empty_and_overlong_subjects(template_dir: Path) -> None:
    write(template_dir, "t", subject="{{ s }}", html="x")
    compiled = TemplateRenderer(jinja2.FileSystemLoader(str(template_dir))).compile("t")
    with pytest.raises(TemplateProblem, match="empty"):
        compiled.render({"s": "  "})
    with pytest.raises(TemplateProblem, match="over the limit"):
        compiled.render({"s": "x" * 300})


def test_text_part_derived_from_html_when_absent(template_dir: Path) -> None:
    write(
        template_dir,
        "t",
        subject="s",
        html="<style>p{}</style><p>Hi <b>{{ n }}</b></p><a href='https://x.example/'>site</a>",
    )
    message = (
        TemplateRenderer(jinja2.FileSystemLoader(str(template_dir)))
        .compile("t")
        .render({"n": "Bo"})
    )
    assert message.text == "Hi Bo\nsite <https://x.example/>\n"
    assert html_to_text("<p>a</p><p>b</p>") == "a\n\nb\n"


@pytest.mark.parametrize("opening", ["<style>", "<STYLE>", '<a href="x">', "<head><title>"])
def test_unclosed_tags_cost_linear_time_in_the_text_part(opening: str) -> None:
    """One regular expression call is not interrupted by the sandbox's CPU bound: a span that
    ran to the end from every unclosed opening took time in the square of the HTML (84 KB of
    `<style>`: 4 s, 200 KB: a minute)."""
    started = time.process_time()
    assert html_to_text(opening * 20_000 + "<p>end</p>").strip() == "end"
    assert time.process_time() - started < 1.0  # the quadratic form: minutes
    assert html_to_text("<HEAD><TITLE>t</title></head>x<a HREF='u'>l</A>") == "xl <u>\n"


def test_variables_used_are_reported(shipped: TemplateRenderer) -> None:
    compiled = shipped.compile("newsletter")
    assert {"first_name", "headline", "email"} <= compiled.variables


def test_errors_name_the_file_under_the_templates_folder_not_the_server_path(
    template_dir: Path,
) -> None:
    """Item 7: the message shows where to look (broken/body.html.j2), not where fanmail runs."""
    (template_dir / "broken").mkdir()
    (template_dir / "broken" / "subject.txt.j2").write_text("Hi")
    (template_dir / "broken" / "body.html.j2").write_text("line one\n{{ 1 / zero }}\n")
    (template_dir / "syntax").mkdir()
    (template_dir / "syntax" / "subject.txt.j2").write_text("Hi")
    (template_dir / "syntax" / "body.html.j2").write_text("{% if %}")
    renderer = TemplateRenderer(jinja2.FileSystemLoader(str(template_dir)))
    with pytest.raises(TemplateProblem) as runtime_error:
        renderer.compile("broken").render({"zero": 0})
    with pytest.raises(TemplateProblem) as syntax_error:
        renderer.compile("syntax")
    for problem in (runtime_error.value, syntax_error.value):
        assert str(template_dir) not in str(problem)
    assert "'broken/body.html.j2', line 2: ZeroDivisionError" in str(runtime_error.value)
    assert "'syntax/body.html.j2', line 1" in str(syntax_error.value)
