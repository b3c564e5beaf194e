"""Shared test set-up: offline Hub, seeds, and tiny models built once per session."""

from __future__ import annotations

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_GRADIEND_CACHE"] = tempfile.mkdtemp(prefix="hf_gradiend_test_cache_")  # never the user's cache

import random  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from hf_gradiend.testing_utils import (  # noqa: E402
    tiny_bert,
    tiny_bpe_tokenizer,
    tiny_gpt2,
    tiny_llama,
    tiny_wordpiece_tokenizer,
    toy_rows,
)


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def bert():
    """(BertForMaskedLM, WordPiece tokenizer): 2 layers, hidden 16."""
    tokenizer = tiny_wordpiece_tokenizer()
    return tiny_bert(tokenizer), tokenizer


@pytest.fixture(scope="session")
def llama():
    """(LlamaForCausalLM, BPE tokenizer with BOS, left padding, tied embeddings)."""
    tokenizer = tiny_bpe_tokenizer(bos=True, padding_side="left")
    return tiny_llama(tokenizer), tokenizer


@pytest.fixture(scope="session")
def gpt2():
    """(GPT2LMHeadModel with Conv1D weights, BPE tokenizer without BOS, right padding)."""
    tokenizer = tiny_bpe_tokenizer(bos=False, padding_side="right")
    return tiny_gpt2(tokenizer), tokenizer


@pytest.fixture(params=["bert", "llama", "gpt2"])
def tiny_lm(request):
    """Each tiny model in turn, as (model, tokenizer)."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def rows():
    """The toy 3SG-vs-3PL rows (see `hf_gradiend.testing_utils.toy_rows`)."""
    return toy_rows()
