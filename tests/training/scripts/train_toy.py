"""
Train a toy direction; run directly or under `torchrun --nproc_per_node 2` (CPU, gloo).

Usage: `train_toy.py OUTPUT_DIR GROUPS_PER_DEVICE [CACHE_DIR]`; without CACHE_DIR gradients are not cached, with it
every process reads and writes that one directory.
"""

from __future__ import annotations

import sys

import transformers

from hf_gradiend import GradiendTrainer, GradiendTrainingArguments
from hf_gradiend.testing_utils import tiny_bpe_tokenizer, tiny_llama, toy_rows


def main(output_dir: str, groups_per_device: int, cache_dir: str | None = None) -> None:
    transformers.logging.set_verbosity_error()
    tokenizer = tiny_bpe_tokenizer(bos=True, padding_side="left")
    base = tiny_llama(tokenizer)
    args = GradiendTrainingArguments(
        output_dir=output_dir, max_steps=6, learning_rate=1e-3, gradient_batch_size=4,
        per_device_train_batch_size=groups_per_device, params=["*.layers.1.mlp.*"], use_cpu=True, seed=0,
        logging_strategy="no", disable_tqdm=True, gradient_cache=cache_dir is not None, gradient_cache_dir=cache_dir,
    )
    GradiendTrainer(base, args=args, train_dataset=toy_rows(), processing_class=tokenizer).train()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:4])
