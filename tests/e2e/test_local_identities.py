"""The stand-in verifies news@fanmail.example and every `--sender-identity` beside it (a domain
lets any of its addresses send), and a sender it has not verified is refused with the way to
verify it, locally and on SES."""

from __future__ import annotations

import pytest

from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import ListSettings
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.cli.serve import verified_identities
from fanmail_local.resources import LOCAL_SENDER
from fanmail_local.runtime import LocalRuntime

pytestmark = pytest.mark.e2e


def test_serve_verifies_its_own_sender_and_each_one_given() -> None:
    given = verified_identities(["acme.example", LOCAL_SENDER])
    assert given == [LOCAL_SENDER, "acme.example"]
    settings = Settings(templates_dir=default_templates_dir())
    with LocalRuntime(settings, sender_identity=given, max_send_rate=10.0) as runtime:
        lists = runtime.app.lists
        lists.create(CreateList("ours", settings=ListSettings(sender=LOCAL_SENDER)))
        lists.create(CreateList("acme", settings=ListSettings(sender="Acme <hi@acme.example>")))
        with pytest.raises(InvalidInput, match="--sender-identity YOUR-DOMAIN"):
            lists.create(CreateList("other", settings=ListSettings(sender="a@other.example")))
