"""`hf-gradiend data`: training rows of two classes and feature-neutral texts from a corpus."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from .parsing import json_option

HELP = "Create training rows of two classes and feature-neutral texts from a corpus."
DESCRIPTION = (
    "Scan a corpus for the words of each class, mask every occurrence and pair it with a word of the other class "
    "(TextPredictionDataCreator). Writes <output_dir>/training (train/validation/test) and <output_dir>/neutral."
)
EXAMPLE = """\
  hf-gradiend data --output_dir data/3sg-3pl --classes 3SG=he,she,it 3PL=they \\
      --max_size_per_class 2000 --neutral_max_size 1000 --neutral_excluded_words i we you"""


@dataclass
class DataArguments:
    output_dir: str = field(metadata={"help": "Folder to write training/ and neutral/ into."})
    classes: list[str] = field(
        metadata={"help": "One class per item as ID=word,word (e.g. 3SG=he,she,it). In a config file also a "
                          "TextFilterConfig as a mapping, e.g. {id: 3SG, targets: [he, she], spacy_tags: ...}."}
    )
    base_data: str = field(default="wordnet", metadata={"help": "Corpus: 'wordnet' (bundled), a file, a "
                                                                 "save_to_disk folder or a Hub dataset id."})
    text_column: str = field(default="text", metadata={"help": "Column holding the texts."})
    split: str = field(default="train", metadata={"help": "Split of a Hub dataset or DatasetDict."})
    hf_config: str | None = field(default=None, metadata={"help": "Configuration of a Hub dataset."})
    base_max_size: int | None = field(default=None, metadata={"help": "Use only the first this many texts."})
    split_sentences: bool = field(default=False, metadata={"help": "Split texts into sentences first."})
    max_size_per_class: int | None = field(default=None, metadata={"help": "At most this many rows per class."})
    split_ratios: list[float] = field(
        default_factory=lambda: [0.8, 0.1, 0.1], metadata={"help": "Shares of train, validation and test."}
    )
    held_out_vocabulary: bool = field(default=False, metadata={"help": "Split by word: test words never train."})
    balance: bool = field(default=False, metadata={"help": "Cut every class to the size of the smallest."})
    feature_classes: list[str] | None = field(
        default=None, metadata={"help": "The two classes to pair, +1 first (needed with more than two)."}
    )
    class_merge_map: str | None = field(
        default=None, metadata={"help": 'Merge classes first, as JSON: \'{"singular": ["1SG", "3SG"], ...}\'.'}
    )
    alternatives: str | None = field(
        default=None, metadata={"help": 'Explicit alternatives by word, as JSON: \'{"he": "they"}\'.'}
    )
    min_left_context_words: int = field(default=0, metadata={"help": "Words required before an occurrence."})
    mask_placeholder: str = field(default="[MASK]", metadata={"help": "Replaces the occurrence in 'masked'."})
    neutral: bool = field(default=True, metadata={"help": "Also write feature-neutral texts."})
    neutral_max_size: int | None = field(default=None, metadata={"help": "At most this many neutral texts."})
    neutral_excluded_words: list[str] | None = field(
        default=None, metadata={"help": "More words that make a text non-neutral (e.g. other pronouns)."}
    )
    spacy_model: str | None = field(default=None, metadata={"help": "spaCy pipeline for classes with spacy_tags."})
    output_format: Literal["hf", "parquet"] = field(
        default="hf", metadata={"help": "hf (save_to_disk; what `hf-gradiend train --data` reads) or parquet."}
    )
    seed: int = field(default=42, metadata={"help": "Seed of samples, splits and alternatives."})
    num_proc: int | None = field(default=None, metadata={"help": "Processes for matching."})


def argument_types() -> tuple[type, ...]:
    return (DataArguments,)


def class_config(spec: Any):
    """`"3SG=he,she,it"` (or `"he,she"`, id = first word) or a mapping of `TextFilterConfig` fields."""
    from ..data import TextFilterConfig

    if isinstance(spec, dict):
        return TextFilterConfig(**spec)
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"--classes item {spec!r} must look like 3SG=he,she,it.")
    class_id, sep, words = spec.partition("=")
    words = words if sep else class_id
    targets = [w.strip() for w in words.split(",") if w.strip()]
    if not targets or (sep and not class_id.strip()):
        raise ValueError(f"--classes item {spec!r} must look like 3SG=he,she,it (an id, '=', comma-separated words).")
    return TextFilterConfig(targets, id=class_id.strip() if sep else None)


def run(args: DataArguments) -> None:
    from ..data import TextPredictionDataCreator

    creator = TextPredictionDataCreator(
        base_data=args.base_data, feature_targets=[class_config(c) for c in args.classes],
        text_column=args.text_column, split=args.split, hf_config=args.hf_config, base_max_size=args.base_max_size,
        split_sentences=args.split_sentences, spacy_model=args.spacy_model,
        min_left_context_words=args.min_left_context_words, mask_placeholder=args.mask_placeholder, seed=args.seed,
        num_proc=args.num_proc, output_dir=args.output_dir, output_format=args.output_format,
    )
    training = creator.generate_training_data(
        max_size_per_class=args.max_size_per_class, split_ratios=tuple(args.split_ratios),
        held_out_vocabulary=args.held_out_vocabulary, balance=args.balance,
        class_merge_map=json_option("class_merge_map", args.class_merge_map), feature_classes=args.feature_classes,
        alternatives=json_option("alternatives", args.alternatives),
    )
    for split, rows in training.items():
        counts = Counter(rows["factual_class"])
        print(f"{split}: {len(rows)} rows ({', '.join(f'{c} {n}' for c, n in counts.items())})")
    print(f"Wrote training data to {creator.output_dir / 'training'}")
    if args.neutral:
        neutral = creator.generate_neutral_data(
            additional_excluded_words=args.neutral_excluded_words, max_size=args.neutral_max_size
        )
        print(f"Wrote {len(neutral)} neutral texts to {creator.output_dir / 'neutral'}")
