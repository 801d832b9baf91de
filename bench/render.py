"""Cost per email of rendering and message building, next to a bare Jinja render of the same
template, in the same run (a ratio, so the machine's noise cancels).

fanmail's path: the render context, the sandboxed subject/HTML/text render, the signed
unsubscribe link and headers, and the OutgoingEmail. The bare path: a plain (not sandboxed)
jinja2 Environment rendering the same three files with the same context. Prints JSON with
microseconds per email for both and `ratio` (goal: <= 1.5).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import jinja2

from fanmail.domain.campaign import Campaign
from fanmail.domain.message import UnsubscribeLinks, personalise
from fanmail.domain.render import FILTERS, TemplateRenderer
from fanmail.domain.tokens import SigningKeys, UnsubscribeSigner
from fanmail.settings import default_templates_dir
from fanmail_local.demo_data import generate_subscribers

VARIABLES = {"brand": "Fanmail Weekly", "headline": "Hello", "cta_url": "https://x.example/a"}
LIST = {"id": "bench", "name": "Bench", "brand": "Fanmail", "postal_address": "1 Main St"}


def per_email_us(work: Callable[[int], object], emails: int, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for i in range(emails):
            work(i)
        samples.append((time.perf_counter() - started) / emails * 1e6)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--template", default="newsletter")
    parser.add_argument("--emails", type=int, default=2000, help="emails per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    folder = str(default_templates_dir())
    subscribers = generate_subscribers("bench", 500, opted_out_share=0, malformed_share=0)
    keys = SigningKeys.generate()
    links = UnsubscribeLinks(UnsubscribeSigner(lambda: keys, 86400), "https://lists.example/v1")
    campaign = Campaign(
        "c1",
        "bench",
        args.template,
        "News <news@example.com>",
        variables=VARIABLES,
        list_info=LIST,
    )
    compiled = TemplateRenderer(jinja2.FileSystemLoader(folder)).compile(args.template)

    bare_env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html", "html.j2"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    bare_env.filters.update(FILTERS)
    bare_parts = [
        bare_env.get_template(f"{args.template}/{part}")
        for part in ("subject.txt.j2", "body.html.j2", "body.txt.j2")
        if (default_templates_dir() / args.template / part).exists()
    ]

    def fanmail_email(i: int) -> object:
        subscriber = subscribers[i % len(subscribers)]
        return personalise(
            campaign,
            compiled,
            links,
            1.8e9,
            email=subscriber.email,
            attributes=subscriber.attributes,
        ).email

    def bare_render(i: int) -> object:
        subscriber = subscribers[i % len(subscribers)]
        context = {
            **VARIABLES,
            **subscriber.attributes,
            "email": subscriber.email,
            "subscriber": {**subscriber.attributes, "email": subscriber.email},
            "campaign": {**VARIABLES, "id": "c1"},
            "unsubscribe_url": "https://lists.example/v1/u/token",
            "preferences_url": "https://lists.example/v1/p/token",
            "list": LIST,
            "subject": "Hello",
        }
        return [part.render(context) for part in bare_parts]

    fanmail_samples: list[float] = []
    bare_samples: list[float] = []
    for _ in range(args.rounds):  # interleaved, so drift hits both alike
        bare_samples += per_email_us(bare_render, args.emails, 1)
        fanmail_samples += per_email_us(fanmail_email, args.emails, 1)
    fanmail_us = statistics.median(fanmail_samples)
    bare_us = statistics.median(bare_samples)
    print(
        json.dumps(
            {
                "template": args.template,
                "emails_per_round": args.emails,
                "rounds": args.rounds,
                "fanmail_us_per_email": round(fanmail_us, 1),
                "bare_jinja_us_per_email": round(bare_us, 1),
                "ratio": round(fanmail_us / bare_us, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
