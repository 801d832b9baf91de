"""Signing keys from Secrets Manager through powertools parameters, against moto server."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from fanmail.adapters.aws.secrets import SecretsManagerKeys
from fanmail.domain.errors import InvalidInput

pytestmark = pytest.mark.integration


def test_keys_are_read_and_rotation_is_picked_up(session: boto3.Session) -> None:
    client = session.client("secretsmanager")
    name = "fanmail-keys-test"
    client.create_secret(Name=name, SecretString=json.dumps({"active": "k1", "k1": "x" * 40}))
    keys = SecretsManagerKeys(name, max_age_s=0)
    assert keys().active == "k1"
    client.put_secret_value(
        SecretId=name, SecretString=json.dumps({"active": "k2", "k1": "x" * 40, "k2": "y" * 40})
    )
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    rotated = keys()
    assert rotated.active == "k2" and set(rotated.secrets) == {"k1", "k2"}


def test_a_malformed_secret_is_a_clear_error(session: boto3.Session) -> None:
    client = session.client("secretsmanager")
    client.create_secret(Name="fanmail-bad-keys", SecretString='{"active": "k1"}')
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    with pytest.raises(InvalidInput, match="secret 'fanmail-bad-keys'.*active key"):
        SecretsManagerKeys("fanmail-bad-keys", max_age_s=0)()
