"""Bad input: every error exits non-zero with one clear line (no traceback) and writes nothing."""

from __future__ import annotations

import pytest

from hf_gradiend.cli import TRACEBACK_ENV, main


@pytest.mark.slow  # a fresh interpreter (~10 s of imports); the in-process tests below cover the same handler
def test_a_missing_base_model_is_one_line_in_a_subprocess(cli, workspace):
    (workspace / "rows.csv").write_text(
        "masked,factual,alternative,factual_class,alternative_class\n[MASK] went.,he,they,3SG,3PL\n"
        "[MASK] went.,they,he,3PL,3SG\n"
    )
    result = cli(
        "train", "--model", "no_such_model_dir", "--data", "rows.csv", "--output_dir", "never_written",
        "--gradient_batch_size", "1", cwd=workspace, check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("hf-gradiend train: error: ")
    assert not (workspace / "never_written").exists()


def _fails(capsys, argv, *needles, status=1):
    if status == 2:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    else:
        assert main(argv) == status
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = err.splitlines()  # progress bars of the work done before the error may come first
    prefix = f"hf-gradiend {argv[0]}: error: " if argv[0] != "nope" else "hf-gradiend: error: "
    assert lines[-1].startswith(prefix) and sum(line.startswith("hf-gradiend") for line in lines) == 1, err
    for needle in needles:
        assert needle in lines[-1], err
    return lines[-1]


def test_flag_errors_exit_2(capsys):
    _fails(capsys, ["info"], "required: --direction", "see hf-gradiend info --help", status=2)
    _fails(capsys, ["info", "--direction", "x", "--colour", "red"], "unrecognized arguments: --colour", status=2)
    _fails(capsys, ["compare", "--directions", "a", "b", "--kind", "pie"], "invalid choice", status=2)
    _fails(capsys, ["nope"], "invalid choice: 'nope'", status=2)


def test_data_errors_write_nothing(capsys, workspace, tmp_path):
    out = tmp_path / "data"
    corpus = str(workspace / "corpus.txt")
    _fails(capsys, ["data", "--output_dir", str(out), "--classes", "3SG=", "3PL=they"], "3SG=")
    _fails(capsys, ["data", "--output_dir", str(out), "--classes", "3SG=he", "X=zebra", "--base_data", corpus],
           "'X'", "zebra")
    _fails(capsys, ["data", "--output_dir", str(out), "--classes", "3SG=he", "3PL=they", "--base_data", corpus,
                    "--class_merge_map", "{oops"], "--class_merge_map must be JSON")
    assert not out.exists()


def test_train_errors_write_nothing(capsys, workspace, tmp_path):
    out = tmp_path / "run"
    _fails(capsys, ["train", "--model", str(workspace / "bert"), "--data", str(tmp_path / "missing.csv"),
                    "--output_dir", str(out)], "No training data at")
    _fails(capsys, ["train", "--model", str(workspace / "bert"), "--data", "x.csv", "--output_dir", str(out),
                    "--pre_prune", '{"topk": 0.1, "colour": 1}'], "colour")
    assert not out.exists()


def test_info_refuses_what_is_not_a_direction(capsys, workspace):
    _fails(capsys, ["info", "--direction", str(workspace / "bert")], "holds a 'bert' model, not a GRADIEND direction")
    _fails(capsys, ["info", "--direction", str(workspace / "nothing_here")], "Could not read")


def test_compare_errors_write_nothing(capsys, random_direction, tmp_path):
    table, figure = tmp_path / "t.json", tmp_path / "f.png"
    path = str(random_direction)
    _fails(capsys, ["compare", "--directions", f"a={path}", path], "Label every direction")
    _fails(capsys, ["compare", "--directions", path], "two or more directions")
    _fails(capsys, ["compare", "--directions", path, path, "--table_path", str(tmp_path / "t.xlsx")], ".json or .csv")
    _fails(capsys, ["compare", "--directions", path, str(tmp_path / "missing"), "--table_path", str(table)],
           "No saved direction")
    _fails(capsys, ["compare", "--directions", path, path, "--topk", "0"], "--topk=0 must be positive")
    _fails(capsys, ["compare", "--directions", f"a={path}", f"b={path}", "--kind", "venn", "--output_path",
                    str(figure), "--table_path", str(table), "--topk", "5", "--value", "intersection",
                    "--part", "encoder-weight", "--config", str(tmp_path / "none.json")], "No config file")
    assert not table.exists() and not figure.exists()


def test_evaluate_and_rewrite_errors_write_nothing(capsys, random_direction, tmp_path):
    out = tmp_path / "out"
    _fails(capsys, ["evaluate", "--direction", str(random_direction), "--data", "x", "--no_encoder", "--no_decoder",
                    "--output_dir", str(out)], "Nothing to evaluate")
    _fails(capsys, ["rewrite", "--direction", str(random_direction), "--output_dir", str(out), "--use_cpu"],
           "decoder_results", "alpha")
    _fails(capsys, ["rewrite", "--direction", str(random_direction), "--output_dir", str(out), "--alpha", "1",
                    "--feature_value", "1", "--target_class", "2SG", "--use_cpu"], "'2SG'", "feature classes")
    _fails(capsys, ["rewrite", "--direction", str(random_direction), "--output_dir", str(out),
                    "--decoder_results", str(tmp_path / "none.json")], "No decoder results")
    assert not out.exists()


def test_push_errors(capsys, workspace, tmp_path):
    _fails(capsys, ["push", "--path", str(tmp_path / "missing"), "--repo_id", "me/x"], "No folder")
    _fails(capsys, ["push", "--path", str(tmp_path), "--repo_id", "me/x"], "neither config.json nor")


def test_traceback_on_request(monkeypatch, workspace):
    monkeypatch.setenv(TRACEBACK_ENV, "1")
    with pytest.raises(ValueError, match="not a GRADIEND direction"):
        main(["info", "--direction", str(workspace / "bert")])
