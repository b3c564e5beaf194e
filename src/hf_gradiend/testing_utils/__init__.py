"""Tiny models, tokenizers and a toy 3SG-vs-3PL corpus, built in memory (no downloads) for tests and the demo."""

from __future__ import annotations

import random

from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

SINGULAR = ("he", "she", "it")
PLURAL = ("they",)
_TEMPLATES = (
    "Yesterday afternoon [MASK] walked to the old market.",
    "After the long meeting [MASK] went straight home.",
    "When the rain stopped [MASK] opened the window.",
    "At the station [MASK] waited for the late train.",
    "During the summer [MASK] worked in a small garden.",
    "Before dinner [MASK] cleaned the whole kitchen.",
    "On the weekend [MASK] visited a friend in town.",
    "In the morning [MASK] read the news quietly.",
    "After school [MASK] played near the river.",
    "Last winter [MASK] built a tiny wooden boat.",
    "At noon [MASK] finally answered the letter.",
    "Every evening [MASK] listened to the radio.",
    "Without a word [MASK] left the crowded room.",
    "By the lake [MASK] found a quiet place to rest.",
    "Later that night [MASK] wrote a short story.",
    "Near the bridge [MASK] saw a bright red car.",
)
_EXTRA_WORDS = "the a of and to in it is was that for on with as i we you [MASK]".split()


__all__ = [
    "tiny_bert",
    "tiny_bpe_tokenizer",
    "tiny_gpt2",
    "tiny_llama",
    "tiny_wordpiece_tokenizer",
    "toy_rows",
    "toy_templates",
]

def toy_rows(seed: int = 0) -> list[dict]:
    """
    A toy 3SG-vs-3PL dataset: every template with every singular pronoun (alternative "they") and with "they"
    (alternative one of the singular pronouns), as rows with the columns the trainer reads.
    """
    rng = random.Random(seed)
    rows = []
    for template in _TEMPLATES:
        for word in SINGULAR:
            rows.append(_row(template, word, "they", "3SG", "3PL"))
        for _ in SINGULAR:  # as many 3PL rows as 3SG rows
            rows.append(_row(template, "they", rng.choice(SINGULAR), "3PL", "3SG"))
    return rows


def toy_templates() -> tuple[str, ...]:
    """The masked templates `toy_rows` fills."""
    return _TEMPLATES


def _row(template: str, factual: str, alternative: str, factual_class: str, alternative_class: str) -> dict:
    return {
        "text": template.replace("[MASK]", factual),
        "masked": template,
        "factual": factual,
        "alternative": alternative,
        "factual_class": factual_class,
        "alternative_class": alternative_class,
    }


def _corpus_words() -> list[str]:
    words = {w.strip(".,").lower() for t in _TEMPLATES for w in t.split()} | set(SINGULAR + PLURAL)
    return sorted((words | set(_EXTRA_WORDS)) - {"[mask]", "[MASK]"})


def tiny_wordpiece_tokenizer() -> BertTokenizer:
    """A BERT WordPiece tokenizer over the toy corpus's words (plus a few `##` pieces), from an in-memory vocab."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = ["##s", "##ed", "##ing", ".", ",", "!", "?", "'"]
    vocab = {t: i for i, t in enumerate(specials + _corpus_words() + pieces)}
    return BertTokenizer(vocab=vocab)


def tiny_bpe_tokenizer(bos: bool = False, padding_side: str = "right") -> PreTrainedTokenizerFast:
    """
    A byte-level BPE tokenizer trained in memory on the toy corpus, so frequent words are single space-prefixed
    tokens ("Ġthey") as in GPT-2 or SmolLM2.

    Args:
        bos (`bool`): Prepend a `<s>` token to every text (Llama style).
        padding_side (`str`): `"right"` (GPT-2 style) or `"left"`.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>", "<s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    corpus = [t.replace("[MASK]", w) for t in _TEMPLATES for w in SINGULAR + PLURAL] * 20
    corpus += [" ".join(_corpus_words())] * 20
    tokenizer.train_from_iterator(corpus, trainer)
    if bos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))]
        )
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=True)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|endoftext|>", bos_token="<s>", pad_token="<pad>",
        padding_side=padding_side,
    )


def tiny_bert(tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> BertForMaskedLM:
    """A 2-layer BERT masked LM with hidden size 16."""
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        pad_token_id=tokenizer.pad_token_id,
    )
    return _seeded(BertForMaskedLM, config, seed)


def tiny_llama(tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> LlamaForCausalLM:
    """A 2-layer Llama causal LM with hidden size 16 and tied embeddings (like SmolLM2)."""
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=64, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    return _seeded(LlamaForCausalLM, config, seed)


def tiny_gpt2(tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> GPT2LMHeadModel:
    """A 2-layer GPT-2 (Conv1D weights) with hidden size 16."""
    config = GPT2Config(
        vocab_size=len(tokenizer), n_embd=16, n_layer=2, n_head=2, n_positions=64, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _seeded(GPT2LMHeadModel, config, seed)


def _seeded(cls: type[PreTrainedModel], config, seed: int) -> PreTrainedModel:
    import torch

    torch.manual_seed(seed)
    return cls(config).eval()
