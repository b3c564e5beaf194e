"""`hf-gradiend push` with the Hub client patched: a direction, an adapter and a rewritten model."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest

from hf_gradiend.cli import main


def _hub_api(uploaded: dict):
    def upload_folder(**kwargs):
        uploaded.update(kwargs, files=sorted(p.name for p in Path(kwargs["folder_path"]).iterdir()))
        return mock.Mock(commit_url="https://huggingface.co/me/x/commit/1")

    def create_commit(**kwargs):
        uploaded.update(kwargs, files=sorted(op.path_in_repo for op in kwargs["operations"]))
        return "https://huggingface.co/me/x/commit/2"

    return mock.Mock(
        create_repo=mock.Mock(return_value=mock.Mock(repo_id="me/x")),
        upload_folder=mock.Mock(side_effect=upload_folder),
        create_commit=mock.Mock(side_effect=create_commit),
    )


def test_push_a_direction_uploads_weights_config_and_card(random_direction, capsys):
    uploaded = {}
    api = _hub_api(uploaded)
    with mock.patch("huggingface_hub.HfApi", return_value=api) as client, \
            mock.patch("transformers.utils.hub.hf_api", return_value=api):
        assert main(["push", "--path", str(random_direction), "--repo_id", "me/x", "--private", "--token", "t"]) == 0
    client.assert_called_with(token="t")
    api.create_repo.assert_called_once_with("me/x", private=True, exist_ok=True)
    assert uploaded["repo_id"] == "me/x"
    assert {"config.json", "model.safetensors", "README.md"} <= set(uploaded["files"])
    assert "Pushed the direction" in capsys.readouterr().out


@pytest.mark.parametrize(("kind", "files"), [("adapter", ["adapter_config.json"]), ("rewritten model", None)])
def test_push_an_adapter_or_a_rewritten_model_uploads_the_folder(tmp_path, capsys, kind, files):
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in files or ["config.json"]:
        (folder / name).write_text('{"model_type": "bert"}')
    (folder / "README.md").write_text("card")
    uploaded = {}
    api = _hub_api(uploaded)
    with mock.patch("huggingface_hub.HfApi", return_value=api):
        assert main(["push", "--path", str(folder), "--repo_id", "me/x", "--commit_message", "hello"]) == 0
    api.create_repo.assert_called_once_with("me/x", private=None, exist_ok=True, repo_type="model")
    assert uploaded["folder_path"] == str(folder) and uploaded["commit_message"] == "hello"
    assert "README.md" in uploaded["files"]
    assert f"Pushed the {kind}" in capsys.readouterr().out
