"""`fanmail topic ...`: a list's topics (list, create, show, set, delete)."""

from __future__ import annotations

import argparse
from typing import Any

from fanmail.domain.topics import Topic, TopicJson
from fanmail.services.topics import TopicChange
from fanmail_local.cli.common import json_option, operator_app
from fanmail_local.cli.output import emit, fields, table


def add_parser(commands: Any) -> None:
    group = commands.add_parser(
        "topic",
        help="a list's topics (product news, weekly digest): what subscribers choose",
        description="Topics of a list: subscribers are in or out of each (the default until "
        "they choose); a campaign may target one (campaign create --topic ID).",
    )
    json_option(group, group=True)
    sub = group.add_subparsers(dest="topic_command", required=True, metavar="SUBCOMMAND")
    listed = sub.add_parser("list", help="a list's topics")
    listed.add_argument("list_id")
    listed.set_defaults(run=list_command)
    create = sub.add_parser("create", help="add a topic to a list")
    create.add_argument("list_id")
    create.add_argument("topic_id", help="a slug: lower-case letters, digits and - (news-digest)")
    _fields(create)
    create.set_defaults(run=create_command)
    show = sub.add_parser("show", help="one topic")
    show.add_argument("list_id")
    show.add_argument("topic_id")
    show.set_defaults(run=show_command)
    change = sub.add_parser("set", help="rename, describe or change the default of a topic")
    change.add_argument("list_id")
    change.add_argument("topic_id")
    _fields(change)
    change.set_defaults(run=set_command)
    delete = sub.add_parser(
        "delete",
        help="delete a topic: subscribers' choices for it stop counting; campaigns that "
        "targeted it keep what they were sent with",
    )
    delete.add_argument("list_id")
    delete.add_argument("topic_id")
    delete.set_defaults(run=delete_command)
    for command in (listed, create, show, change, delete):
        json_option(command)


def _fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="what subscribers see (default: the id)")
    parser.add_argument("--description", help="a line on the preference page")
    parser.add_argument(
        "--default",
        choices=["in", "out"],
        help="where a subscriber is until they choose (default in)",
    )


def _change(args: argparse.Namespace) -> TopicChange:
    return TopicChange(args.name, args.description, args.default)


def _lines(topic: TopicJson) -> list[str]:
    return fields(
        [
            ("topic", topic["id"]),
            ("name", topic["name"]),
            ("description", topic["description"] or "-"),
            ("default", f"{topic['default']} until they choose"),
        ]
    )


def _show(args: argparse.Namespace, topic: Topic) -> int:
    view = topic.to_dict()
    emit(args.json, view, lambda: _lines(view))
    return 0


def list_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        found = [t.to_dict() for t in app.topics.all(args.list_id)]
    rows = [(t["id"], t["name"], t["default"], t["description"]) for t in found]

    def lines() -> list[str]:
        if not found:
            return [f"{args.list_id} has no topics: fanmail topic create {args.list_id} ID"]
        return table(("TOPIC", "NAME", "DEFAULT", "DESCRIPTION"), rows)

    emit(args.json, {"topics": found}, lines)
    return 0


def create_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        return _show(args, app.topics.create(args.list_id, args.topic_id, _change(args)))


def show_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        return _show(args, app.topics.get(args.list_id, args.topic_id))


def set_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        return _show(args, app.topics.update(args.list_id, args.topic_id, _change(args)))


def delete_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        gone = app.topics.delete(args.list_id, args.topic_id).to_dict()
    emit(args.json, {"deleted": gone}, lambda: [f"deleted topic {gone['id']} of {args.list_id}"])
    return 0
