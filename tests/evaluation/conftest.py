"""Shared set-up of the evaluation tests: neutral texts, tiny LMs that learned the toy corpus, trained trainers."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from datasets import Dataset, DatasetDict

from hf_gradiend import GradiendTrainer, GradiendTrainingArguments
from hf_gradiend.gradients import select_parameters
from hf_gradiend.modeling_gradiend import GradiendModel
from hf_gradiend.testing_utils import toy_rows, toy_templates
from hf_gradiend.training.evaluation_workflow import EvaluationMixin

NEUTRAL = [
    "Yesterday afternoon we walked to the old market.",
    "After the long meeting we went straight home.",
    "When the rain stopped you opened the window.",
    "At the station we waited for the late train.",
    "During the summer you worked in a small garden.",
    "Before dinner we cleaned the whole kitchen.",
    "On the weekend you visited a friend in town.",
    "In the morning we read the news quietly.",
    "After school you played near the river.",
    "Last winter we built a tiny wooden boat.",
    "At noon you finally answered the letter.",
    "Every evening we listened to the radio.",
]


if issubclass(GradiendTrainer, EvaluationMixin):
    T = GradiendTrainer
else:  # before the mixin is wired into GradiendTrainer's bases

    class T(EvaluationMixin, GradiendTrainer):
        """The trainer with the evaluation methods, as the package wires it."""


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread, above all on a shared machine; restored after each test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def neutral_texts() -> list[str]:
    """Feature-neutral texts over the toy vocabulary (no he/she/it/they)."""
    return list(NEUTRAL)


def pretrain(model, tokenizer, steps: int = 100, seed: int = 0):
    """Teach a tiny LM the toy corpus (filled templates + neutral texts) so its LMS is well above zero."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    texts = list(dict.fromkeys(r["text"] for r in toy_rows())) + NEUTRAL
    pad = tokenizer.pad_token_id
    encoded = [tokenizer(t)["input_ids"] for t in texts]
    width = max(len(e) for e in encoded)
    ids = torch.full((len(texts), width), pad)
    attention = torch.zeros_like(ids)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = torch.tensor(e)
        attention[i, : len(e)] = 1
    masked_lm = tokenizer.mask_token_id is not None and "Bert" in type(model).__name__
    model.requires_grad_(True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        if masked_lm:
            special = torch.isin(ids, torch.tensor(tokenizer.all_special_ids))
            chosen = (torch.rand(ids.shape) < 0.2) & attention.bool() & ~special
            inputs = ids.masked_fill(chosen, tokenizer.mask_token_id)
            labels = ids.masked_fill(~chosen, -100)
        else:
            inputs, labels = ids, ids.masked_fill(attention == 0, -100)
        loss = model(input_ids=inputs, attention_mask=attention, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    torch.set_num_threads(threads)
    return model


@pytest.fixture(scope="session")
def lm_bert(bert):
    """(tiny BERT that learned the toy corpus, tokenizer)."""
    model, tokenizer = bert
    return pretrain(copy.deepcopy(model), tokenizer), tokenizer


@pytest.fixture(scope="session")
def lm_llama(llama):
    """(tiny Llama that learned the toy corpus, left-padding tokenizer with BOS)."""
    model, tokenizer = llama
    return pretrain(copy.deepcopy(model), tokenizer), tokenizer


@pytest.fixture(scope="session")
def lm_gpt2(gpt2):
    """(tiny GPT-2 that learned the toy corpus, right-padding tokenizer)."""
    model, tokenizer = gpt2
    return pretrain(copy.deepcopy(model), tokenizer), tokenizer


@pytest.fixture(params=["lm_bert", "lm_llama", "lm_gpt2"])
def lm(request):
    """Each pretrained tiny LM in turn, as (model, tokenizer)."""
    return request.getfixturevalue(request.param)


def _random_direction(model, params=None, scale: float = 1.0, seed: int = 0) -> GradiendModel:
    """An untrained direction over `params` of `model` (decoder weights scaled by `scale`)."""
    torch.manual_seed(seed)
    selection = select_parameters(model, params)
    objective = "masked_lm" if "Bert" in type(model).__name__ else "causal_lm"
    direction = GradiendModel.for_base_model(model, selection, feature_classes=["3SG", "3PL"], objective=objective)
    with torch.no_grad():
        direction.decoder.weight.mul_(scale)
        direction.decoder.bias.mul_(scale)
    return direction


@pytest.fixture(scope="session")
def random_direction():
    """Factory `random_direction(model, params=None, scale=1.0, seed=0)`: an untrained direction over `params`."""
    return _random_direction


@pytest.fixture(scope="session")
def split_data() -> DatasetDict:
    """The toy rows: 12 templates for training, 4 for validation and test."""
    rows = toy_rows()
    held_out = set(toy_templates()[12:])
    train = [r for r in rows if r["masked"] not in held_out]
    test = [r for r in rows if r["masked"] in held_out]
    return DatasetDict(train=Dataset.from_list(train), validation=Dataset.from_list(test),
                       test=Dataset.from_list(test))


def make_trainer(base, tokenizer, data, root, neutral=None, source="factual", learning_rate=1e-2) -> T:
    args = GradiendTrainingArguments(
        output_dir=str(root / "out"), max_steps=150, learning_rate=learning_rate, gradient_batch_size=4, source=source,
        logging_strategy="no", disable_tqdm=True, use_cpu=True, seed=0, gradient_cache_dir=str(root / "cache"),
    )
    trainer = T(copy.deepcopy(base), args=args, train_dataset=data, processing_class=tokenizer,
                eval_neutral_data=neutral)
    trainer.train()
    return trainer


@pytest.fixture(scope="session")
def bert_trainer(lm_bert, split_data, neutral_texts, tmp_path_factory) -> T:
    """A trainer on the pretrained tiny BERT, trained a few steps, with neutral data."""
    model, tokenizer = lm_bert
    return make_trainer(model, tokenizer, split_data, tmp_path_factory.mktemp("bert"), neutral_texts)


@pytest.fixture(scope="session")
def llama_trainer(lm_llama, split_data, neutral_texts, tmp_path_factory) -> T:
    """A trainer on the pretrained tiny Llama (causal, left padding), trained on diff gradients, with neutral data."""
    model, tokenizer = lm_llama
    return make_trainer(model, tokenizer, split_data, tmp_path_factory.mktemp("llama"), neutral_texts, source="diff",
                        learning_rate=1e-3)


def _files_under(path) -> set[str]:
    root = Path(path)
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


@pytest.fixture(scope="session")
def files_under():
    """`files_under(path)`: every file below `path` (relative), to check that a failed call wrote nothing."""
    return _files_under


@pytest.fixture(scope="session")
def trainer_class():
    """The trainer class with the evaluation methods."""
    return T
