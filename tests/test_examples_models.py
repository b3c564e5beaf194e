"""The model examples run end to end (`--smoke`) in a subprocess and write what they promise."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hf_gradiend.offline_assets import MissingAssetError, smollm2_path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FORTUNES_DE = Path("/usr/share/games/fortunes/de")

# A tiny German text written for this test (not from any corpus): masculine "der" and feminine "die" in nominative
# slots the example's heuristic tagger recognises (after a comma, a conjunction or a form of "sein"), other article
# uses, and article-free sentences for the neutral data.
GERMAN_TEXT = """\
Heute ist der Himmel blau. Gestern war der Himmel grau.
Ich glaube, der Mann kommt morgen. Sie sagt, dass der Hund schläft.
Wir wissen, der Lehrer ist krank. Er hofft, dass der Zug pünktlich kommt.
Am Morgen war der Garten nass. Im Sommer ist der Wald grün.
Meine Oma sagt, der Kaffee ist kalt. Wir hoffen, dass der Regen aufhört.
Jeder weiß, der Winter wird lang. Ich denke, der Computer ist kaputt.
Sie meint, der Student hat recht. Er fragt, ob der Arzt kommt.
Heute ist die Sonne warm. Gestern war die Nacht kalt.
Ich glaube, die Frau kommt morgen. Sie sagt, dass die Katze schläft.
Wir wissen, die Lehrerin ist krank. Er hofft, dass die Bahn pünktlich kommt.
Am Morgen war die Straße nass. Im Sommer ist die Wiese grün.
Meine Oma sagt, die Suppe ist kalt. Wir hoffen, dass die Zeitung bald kommt.
Jeder weiß, die Arbeit wird lang. Ich denke, die Maschine ist kaputt.
Sie meint, die Wissenschaft hat recht. Er fragt, ob die Polizei kommt.
Er wohnt in der Stadt. Sie gibt der Frau ein Buch. Wir sehen das Haus am Fluss.
Ich lese gern Bücher. Wir essen heute Abend Nudeln. Es regnet seit Stunden.
Mein Bruder spielt gern Fußball. Morgen fahren wir nach Berlin. Sie trinkt gern Tee.
Er kauft ein neues Fahrrad. Unsere Nachbarn haben einen großen Garten. Kommst du mit?
"""


def run_example(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def smollm2():
    try:
        return smollm2_path()
    except MissingAssetError as error:
        pytest.skip(str(error))


@pytest.mark.slow
@pytest.mark.parametrize("text", ["written", "fortunes-de"])
def test_german_articles_smoke(tmp_path, smollm2, text):
    if text == "fortunes-de":
        if not FORTUNES_DE.is_dir():
            pytest.skip("fortunes-de is not installed (apt-get install fortunes-de)")
        text_file = FORTUNES_DE
    else:
        text_file = tmp_path / "german.txt"
        text_file.write_text(GERMAN_TEXT, encoding="utf-8")
    out = tmp_path / "out"
    result = run_example("german_articles.py", "--text-file", str(text_file), "--model", str(smollm2),
                         "--output-dir", str(out), "--smoke", cwd=tmp_path)

    assert "test correlation" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["classes"] == ["masc_nom", "fem_nom"]
    assert set(report["class_means"]) == {"masc_nom", "fem_nom"}
    assert all(n >= 3 for n in report["rows_per_class"].values()) and len(report["rows_per_class"]) == 2
    assert math.isfinite(report["test_correlation"]) and report["coordinates"] > 0
    for name in ("config.json", "model.safetensors", "encoder_test.png", "training_convergence.png"):
        assert (out / "direction" / name).is_file(), name
    config = json.loads((out / "direction" / "config.json").read_text())
    assert config["feature_classes"] == ["masc_nom", "fem_nom"] and config["objective"] == "causal_lm"


@pytest.mark.slow
def test_decoder_only_and_mlm_smoke(tmp_path):
    out = tmp_path / "out"
    result = run_example("decoder_only_and_mlm.py", "--output-dir", str(out), "--smoke", cwd=tmp_path)

    assert "objective" in result.stdout and "coordinates" in result.stdout
    comparison = json.loads((out / "comparison.json").read_text())
    assert list(comparison) == ["masked_lm", "causal_lm"]
    for name, row in comparison.items():
        assert row["objective"] == name
        assert row["coordinates"] > 0 and math.isfinite(row["test_correlation"])
        assert set(row["class_means"]) == {"3SG", "3PL"}
        assert row["model"] in result.stdout[:100000] or row["model"][:28] in result.stdout
        for file in ("config.json", "model.safetensors", "encoder_test.png"):
            assert (out / name / file).is_file(), f"{name}/{file}"
