"""`hf-gradiend push`: upload a saved direction, adapter or rewritten model to the Hugging Face Hub."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

HELP = "Push a saved direction, adapter or rewritten model to the Hugging Face Hub."
DESCRIPTION = (
    "Upload a folder to a Hub model repository (created if needed): a direction (written by training; uploaded "
    "with its model card), a GRADIEND adapter (adapter_config.json) or a rewritten model (from `hf-gradiend "
    "rewrite`). Log in first (`hf auth login`) or pass --token."
)
EXAMPLE = """\
  hf-gradiend push --path runs/3sg-3pl --repo_id me/smollm2-3sg-3pl-gradiend
  hf-gradiend push --path models/smollm2-more-3pl --repo_id me/smollm2-more-3pl --private"""

KINDS = ("direction", "adapter", "rewritten model")


@dataclass
class PushArguments:
    path: str = field(metadata={"help": "Folder of a direction, an adapter or a rewritten model."})
    repo_id: str = field(metadata={"help": "The Hub repository, e.g. me/my-direction."})
    private: bool = field(default=False, metadata={"help": "Create the repository as private."})
    token: str | None = field(default=None, metadata={"help": "Hub token (the logged-in one by default)."})
    commit_message: str | None = field(default=None, metadata={"help": "Commit message."})


def argument_types() -> tuple[type, ...]:
    return (PushArguments,)


def folder_kind(path: str) -> str:
    """`"direction"`, `"adapter"` or `"rewritten model"`, from the files of the folder."""
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"No folder at {path!r}; pass the folder of a direction, an adapter or a rewritten model.")
    config = folder / "config.json"
    if config.is_file():
        try:
            model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        except (json.JSONDecodeError, AttributeError):
            raise ValueError(f"{str(config)!r} is not a valid config.json.") from None
        return "direction" if model_type == "gradiend" else "rewritten model"
    if (folder / "adapter_config.json").is_file():
        return "adapter"
    raise ValueError(
        f"{path!r} holds neither config.json nor adapter_config.json; pass the folder of a direction, an adapter "
        "or a rewritten model."
    )


def run(args: PushArguments) -> None:
    kind = folder_kind(args.path)
    private = True if args.private else None
    if kind == "direction":
        from ..modeling_gradiend import GradiendModel

        url = GradiendModel.from_pretrained(args.path).push_to_hub(
            args.repo_id, private=private, token=args.token, commit_message=args.commit_message
        )
    else:
        from huggingface_hub import HfApi

        api = HfApi(token=args.token)
        repo_id = api.create_repo(args.repo_id, private=private, exist_ok=True, repo_type="model").repo_id
        default = "Upload GRADIEND adapter" if kind == "adapter" else "Upload GRADIEND-rewritten model"
        commit = api.upload_folder(
            repo_id=repo_id, folder_path=args.path, repo_type="model", commit_message=args.commit_message or default
        )
        url = getattr(commit, "commit_url", commit)
    print(f"Pushed the {kind} {args.path} to {args.repo_id}: {url}")
