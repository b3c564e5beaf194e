"""Base corpora: the bundled WordNet sentences and every accepted form of base_data."""

from __future__ import annotations

import datasets
import pandas as pd
import pytest
from datasets import Dataset, DatasetDict, IterableDataset

from hf_gradiend.data import bundled_corpus_path, load_base_data, load_wordnet, split_into_sentences


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")


def test_bundled_wordnet_corpus_and_licence():
    path = bundled_corpus_path()
    assert path.name == "wordnet_examples.txt" and (path.parent / "WORDNET_LICENSE").read_text().startswith(
        "WordNet 3.0 license")
    corpus = load_wordnet()
    assert len(corpus) == 34761 and corpus.column_names == ["text"]
    assert load_base_data("wordnet")["text"][:3] == corpus["text"][:3]
    with pytest.raises(ValueError, match="bundled corpora"):
        bundled_corpus_path("brown")


def test_in_memory_forms(sentences):
    expected = sentences
    assert list(load_base_data(sentences)["text"]) == expected
    frame = pd.DataFrame({"sentence": sentences, "n": range(len(sentences))})
    assert list(load_base_data(frame, text_column="sentence")["text"]) == expected
    dataset = Dataset.from_dict({"body": sentences})
    assert load_base_data(dataset, text_column="body").column_names == ["text"]
    both = DatasetDict({"train": dataset, "test": dataset.select(range(2))})
    assert len(load_base_data(both, text_column="body", split="test")) == 2
    with pytest.raises(ValueError, match="split='dev'"):
        load_base_data(both, text_column="body", split="dev")
    assert list(load_base_data(sentences, base_max_size=3)["text"]) == expected[:3]
    streamed = load_base_data(dataset.to_iterable_dataset(), text_column="body", base_max_size=5)
    assert isinstance(streamed, IterableDataset) and [r["text"] for r in streamed] == expected[:5]
    with pytest.raises(TypeError, match="strings only"):
        load_base_data(["a", 3])
    with pytest.raises(TypeError, match="not supported"):
        load_base_data(3.5)


def test_local_files(tmp_path, sentences):
    (tmp_path / "c.txt").write_text("\n".join(sentences) + "\n")
    pd.DataFrame({"body": sentences}).to_csv(tmp_path / "c.csv", index=False)
    pd.DataFrame({"body": sentences}).to_json(tmp_path / "c.jsonl", orient="records", lines=True)
    pd.DataFrame({"body": sentences}).to_parquet(tmp_path / "c.parquet")
    Dataset.from_dict({"body": sentences}).save_to_disk(str(tmp_path / "saved"))
    assert list(load_base_data(tmp_path / "c.txt")["text"]) == sentences
    for name in ("c.csv", "c.jsonl", "c.parquet", "saved"):
        assert list(load_base_data(str(tmp_path / name), text_column="body")["text"]) == sentences, name
    streamed = load_base_data(str(tmp_path / "c.csv"), text_column="body", streaming=True)
    assert isinstance(streamed, IterableDataset) and [r["text"] for r in streamed] == sentences
    (tmp_path / "c.docx").write_text("x")
    with pytest.raises(ValueError, match="suffix '.docx'"):
        load_base_data(str(tmp_path / "c.docx"))
    with pytest.raises(ValueError, match="no such file"):
        load_base_data(str(tmp_path / "missing.txt"))


def test_sentence_splitting():
    text = 'He came home. "Are you there?" she asked! Dr. Smith left.\nA new line'
    assert split_into_sentences(text) == ['He came home.', '"Are you there?" she asked!', "Dr.", "Smith left.",
                                          "A new line"]
    data = load_base_data(["One. Two three.", "Four"], split_sentences=True)
    assert list(data["text"]) == ["One.", "Two three.", "Four"]
    data = load_base_data(["a;b", "c"], split_sentences=lambda t: t.split(";"))
    assert list(data["text"]) == ["a", "b", "c"]
    streamed = load_base_data(Dataset.from_dict({"text": ["x. Y"]}).to_iterable_dataset(), split_sentences=True)
    assert [r["text"] for r in streamed] == ["x.", "Y"]


def test_a_hub_id_goes_to_load_dataset_with_config_split_and_streaming(monkeypatch):
    calls = []

    def fake_load_dataset(path, name=None, split=None, streaming=False, **kwargs):
        calls.append((path, name, split, streaming))
        return Dataset.from_dict({"content": ["he ran", "they ran"]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data = load_base_data("someone/corpus", text_column="content", split="validation", hf_config="en",
                          streaming=True)
    assert calls == [("someone/corpus", "en", "validation", True)]
    assert list(data["text"]) == ["he ran", "they ran"]


@pytest.mark.slow
def test_a_built_wheel_ships_the_corpus_and_its_licence(tmp_path):
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(root)], check=True)
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    assert {"hf_gradiend/resources/wordnet_examples.txt", "hf_gradiend/resources/WORDNET_LICENSE"} <= set(names)
