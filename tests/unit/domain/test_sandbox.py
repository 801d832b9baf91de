"""Item 7: a template cannot burn CPU or memory without limit; it is refused when the campaign
is created (a preview, the creation check) and fails one recipient at send time, never a sender.
"""

from __future__ import annotations

import functools
import time

import jinja2
import pytest

from fanmail.domain.errors import TemplateProblem
from fanmail.domain.render import TemplateRenderer
from fanmail.domain.sandbox import MAX_OUTPUT_CHARS, RenderClock, TooCostly

COSTLY = {
    "nested_loops": "{% for i in range(100000) %}{% for j in range(3000) %}{% endfor %}"
    "{% endfor %}",
    "recursion": "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}"
    "{{ f(40) }}",
    "repeat": "{{ 'x' * 50000000 }}",
    "repeat_list": "{{ ([1] * 50000000) | length }}",
    "power": "{{ 2 ** 100000000 }}",
    "doubling": "{% set ns = namespace(s='xx') %}{% for i in range(40) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    "method_width": "{{ 'x'.ljust(100000000) }}",
    "format_width": "{{ '{:>100000000}'.format('x') }}",
    "printf_width": "{{ '%100000000s' % 'x' }}",
    "filter_width": "{{ 'x' | center(100000000) }}",
    "replace": "{{ ('a' * 100000) | replace('a', 'b' * 26) }}",
    "join": "{{ range(100000) | join('x' * 100) }}",
    "output": "{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}",
}


def renderer(templates: dict[str, str]) -> TemplateRenderer:
    files = {f"{name}/body.html.j2": body for name, body in templates.items()}
    files |= {f"{name}/subject.txt.j2": "Hello" for name in templates}
    return TemplateRenderer(jinja2.DictLoader(files))


@pytest.mark.parametrize("name", sorted(COSTLY))
def test_costly_templates_are_stopped_quickly(name: str) -> None:
    compiled = renderer(COSTLY).compile(name)
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match="TooCostly") as info:
        compiled.render({})
    assert time.monotonic() - started < 2.0
    assert f"template {name!r}" in str(info.value)


def test_ordinary_templates_are_untouched() -> None:
    ok = renderer(
        {
            "ok": "{% for i in range(1000) %}{{ i }}{% endfor %}{{ 'ab' * 10 }}"
            "{{ '%5s' % 'x' }}{{ 'x' | center(20) }}{{ 2 ** 10 }}"
            "{% set ns = namespace(n=0) %}{% for i in range(10) %}{% set ns.n = ns.n + i %}"
            "{% endfor %}{{ ns.n }}{{ [1, 2] | join(', ') }}"
        }
    )
    html = ok.compile("ok").render({}).html
    assert html.endswith("    x" + "x".center(20) + "1024" + "45" + "1, 2")


def test_output_just_under_the_limit_passes() -> None:
    compiled = renderer({"big": f"{{{{ 'z' * {MAX_OUTPUT_CHARS - 10} }}}}"}).compile("big")
    assert len(compiled.render({}).html) == MAX_OUTPUT_CHARS - 10


def test_the_time_limit_never_fires_outside_a_render() -> None:
    """The watchdog raises only inside a render still running: renders that end around their
    deadline (some just before the watchdog looks, some just after) leave no exception behind
    for the code that runs next."""
    clock = RenderClock(seconds=0.01)
    outcomes = {"stopped": 0, "finished": 0}

    def busy(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass

    for attempt in range(40):
        seconds = 0.005 + (attempt % 8) * 0.015  # 5 to 110 ms
        try:
            clock.run(functools.partial(busy, seconds))
            outcomes["finished"] += 1
        except TooCostly:
            outcomes["stopped"] += 1
        total = 0
        for i in range(50_000):  # plain code after the render: must not be interrupted
            total += i
        assert total == sum(range(50_000))
    assert outcomes["stopped"] > 0 and outcomes["finished"] > 0


def test_a_slow_template_fails_one_recipient_not_the_run(stack: object) -> None:
    from fanmail.local.harness import MemoryStack

    assert isinstance(stack, MemoryStack)
    compiled = renderer(
        {"slow": "{% for c in name %}{% for d in name %}{% for e in name %}{% endfor %}"
                 "{% endfor %}{% endfor %}ok"}
    ).compile("slow")  # fmt: skip
    assert compiled.render({"name": "abc"}).html == "ok"  # the sample is fine
    with pytest.raises(TemplateProblem, match="longer than"):
        compiled.render({"name": "x" * 2000})  # a subscriber's long attribute is not
