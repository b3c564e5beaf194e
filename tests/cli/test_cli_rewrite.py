"""`hf-gradiend rewrite` in-process: α and h from decoder results (found beside the direction or given), or by hand;
an existing different model is not replaced."""

from __future__ import annotations

import json

import torch
from transformers import AutoModelForMaskedLM

from hf_gradiend import GradiendModel
from hf_gradiend.cli import main


def _entry(cls, alpha, h):
    return {"learning_rate": alpha, "feature_value": h, "lms": 0.5, "base_lms": 0.5, "target_class": cls,
            "increase": True}


def _changed_by(workspace, folder, direction_folder, alpha, h):
    base = AutoModelForMaskedLM.from_pretrained(workspace / "bert").state_dict()
    rewritten = AutoModelForMaskedLM.from_pretrained(folder).state_dict()
    update = GradiendModel.from_pretrained(direction_folder).update_for(h, alpha=alpha)
    return all(torch.allclose(rewritten[name], base[name] + delta, atol=1e-6) for name, delta in update.items())


def test_rewrite_uses_the_decoder_results_beside_the_direction(workspace, random_direction, tmp_path, capsys):
    results = {"3SG": _entry("3SG", 0.01, -1.0), "3PL": _entry("3PL", 0.02, 1.0), "grid": [], "settings": {}}
    (random_direction / "decoder_results.json").write_text(json.dumps(results))
    try:
        assert main(["rewrite", "--direction", str(random_direction), "--target_class", "3PL", "--output_dir",
                     str(tmp_path / "m"), "--use_cpu", "--no_save_adapter"]) == 0
    finally:
        (random_direction / "decoder_results.json").unlink()
    assert _changed_by(workspace, tmp_path / "m", random_direction, 0.02, 1.0)
    assert not (tmp_path / "m" / "adapter").exists()
    assert "strengthen 3PL), alpha=0.02, h=1" in capsys.readouterr().out


def test_rewrite_from_a_results_file_with_an_alpha_override(workspace, random_direction, tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"3SG": _entry("3SG", 0.01, -1.0)}))
    assert main(["rewrite", "--direction", str(random_direction), "--decoder_results", str(results), "--alpha", "0.5",
                 "--output_dir", str(tmp_path / "m"), "--use_cpu"]) == 0
    assert _changed_by(workspace, tmp_path / "m", random_direction, 0.5, -1.0)
    assert (tmp_path / "m" / "adapter" / "adapter_config.json").is_file()


def test_rewrite_refuses_to_replace_another_model(workspace, random_direction, tmp_path, capsys):
    target = tmp_path / "m"
    argv = ["rewrite", "--direction", str(random_direction), "--alpha", "0.1", "--feature_value", "1",
            "--output_dir", str(target), "--use_cpu"]
    assert main(argv) == 0
    before = (target / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert main([*argv[:4], "0.2", *argv[5:]]) == 1
    assert "already holds a different rewrite" in capsys.readouterr().err
    assert (target / "model.safetensors").read_bytes() == before
    assert main([*argv[:4], "0.2", *argv[5:], "--overwrite"]) == 0
    assert _changed_by(workspace, target, random_direction, 0.2, 1.0)
