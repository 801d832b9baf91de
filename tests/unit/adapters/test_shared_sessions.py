"""Sessions on one botocore data loader: what one session loaded, the next does not read again,
and each still takes its own region and the environment's credentials."""

from __future__ import annotations

import pytest

from fanmail.adapters.aws import shared_sessions


def test_sessions_share_one_loader_whose_search_paths_stay_put(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    first = shared_sessions.session("eu-west-1")
    paths = list(first._loader.search_paths)
    later = [shared_sessions.session(region) for region in ("us-east-1", "sa-east-1", "ap-south-1")]
    assert all(s._loader is first._loader for s in later)
    assert first._loader.search_paths == paths  # boto3 appends its own path on each session
    assert len(set(paths)) == len(paths)
    assert [s.region_name for s in later] == ["us-east-1", "sa-east-1", "ap-south-1"]
    client = later[0].client("dynamodb", endpoint_url="http://127.0.0.1:9")
    assert client.meta.region_name == "us-east-1"
    credentials = later[2].get_credentials()
    assert credentials is not None and credentials.access_key == "AKIDEXAMPLE"


def test_a_model_loaded_by_one_session_is_not_read_again_by_the_next() -> None:
    shared_sessions.session("us-east-1").client("sqs", endpoint_url="http://127.0.0.1:9")
    loader = shared_sessions.session("us-east-1")._loader
    loaded = loader.load_service_model("sqs", "service-2")
    assert (
        shared_sessions.session("eu-west-1")._loader.load_service_model("sqs", "service-2")
        is loaded
    )
