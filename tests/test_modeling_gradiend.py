"""GradiendConfig / GradiendModel: init, compute, update_for, importance, save/load/push, Auto classes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest import mock

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModel

import hf_gradiend  # noqa: F401  (registers the model type)
from hf_gradiend import GradiendConfig, GradiendModel, LatentDimError, ParameterMismatchError
from hf_gradiend.gradients import select_parameters
from hf_gradiend.testing_utils import tiny_bert, tiny_wordpiece_tokenizer


def _direction(base, coordinates=None, **kwargs) -> GradiendModel:
    selection = select_parameters(base, ["*.layer.1.output.*"])
    torch.manual_seed(0)
    return GradiendModel.for_base_model(
        base, selection, coordinates=coordinates, feature_classes=["3SG", "3PL"], **kwargs
    )


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="source='gradient'"):
        GradiendConfig(input_dim=4, source="gradient")
    with pytest.raises(ValueError, match="two different classes"):
        GradiendConfig(input_dim=4, feature_classes=["a", "a"])
    with pytest.raises(ValueError, match="objective"):
        GradiendConfig(input_dim=4, objective="seq2seq")


def test_init_follows_the_method_and_is_seeded():
    torch.manual_seed(3)
    a = GradiendModel(GradiendConfig(input_dim=500))
    torch.manual_seed(3)
    b = GradiendModel(GradiendConfig(input_dim=500))
    bound = a.encoder.weight.abs().max()
    assert bound <= 1 / 500**0.5 + 1e-6  # nn.Linear's range
    assert a.decoder.weight.abs().max() <= bound and a.decoder.bias.abs().max() <= bound
    assert a.decoder.weight.abs().max() > 0.5 * bound  # spread over the range, not collapsed
    assert torch.equal(a.decoder.weight, b.decoder.weight) and torch.equal(a.encoder.weight, b.encoder.weight)


def test_forward_encode_decode(bert):
    model = _direction(bert[0])
    x = torch.randn(3, model.config.input_dim)
    out = model(gradients=x, targets=x)
    h = torch.tanh(x @ model.encoder.weight.T + model.encoder.bias)
    torch.testing.assert_close(out.encoding, h)
    torch.testing.assert_close(out.reconstruction, h @ model.decoder.weight.T + model.decoder.bias)
    torch.testing.assert_close(out.loss, torch.nn.functional.mse_loss(out.reconstruction, x))
    torch.testing.assert_close(model.decode(0.5), model.decode(torch.tensor([[0.5]]))[0])


def test_update_for_matches_decoder_in_base_shapes(bert):
    base = bert[0]
    model = _direction(base)
    deltas = model.update_for(-1.0, alpha=0.1)
    params = dict(base.named_parameters())
    assert list(deltas) == list(model.config.param_names)
    for name, delta in deltas.items():
        assert delta.shape == params[name].shape
    flat = torch.cat([d.reshape(-1) for d in deltas.values()])
    torch.testing.assert_close(flat, 0.1 * (-model.decoder.weight[:, 0] + model.decoder.bias))


def test_pruned_update_and_topk_use_base_global_coordinates(bert):
    base = bert[0]
    full = select_parameters(base, ["*.layer.1.output.*"]).num_coordinates
    coordinates = torch.tensor([3, 17, full - 1])
    model = _direction(base, coordinates=coordinates)
    assert model.config.input_dim == 3
    with torch.no_grad():
        model.decoder.weight.copy_(torch.tensor([[1.0], [5.0], [-3.0]]))
        model.decoder.bias.zero_()
    flat = torch.cat([d.reshape(-1) for d in model.update_for(1.0).values()])
    assert flat.numel() == full and torch.count_nonzero(flat) == 3
    assert flat[17] == 5.0 and flat[full - 1] == -3.0
    assert model.topk(2).tolist() == [17, full - 1]
    assert model.topk(1.0 / 3).tolist() == [17]


def test_importance_parts(bert):
    model = _direction(bert[0])
    w_d, b_d = model.decoder.weight[:, 0], model.decoder.bias
    torch.testing.assert_close(model.importance("decoder-weight"), w_d.abs())
    torch.testing.assert_close(model.importance("decoder-bias"), b_d.abs())
    torch.testing.assert_close(model.importance("decoder-sum"), (w_d + b_d).abs())
    torch.testing.assert_close(model.importance("encoder-weight"), model.encoder.weight[0].abs())
    with pytest.raises(ValueError, match="part='decoder'"):
        model.importance("decoder")
    with pytest.raises(ValueError, match="k=0"):
        model.topk(0)


def test_latent_dim_other_than_one_is_refused_where_h_is_a_number(bert):
    model = _direction(bert[0], latent_dim=2)
    assert model.encode(torch.randn(2, model.config.input_dim)).shape == (2, 2)
    with pytest.raises(LatentDimError, match="latent_dim=2"):
        model.update_for(1.0)
    with pytest.raises(LatentDimError, match="latent_dim=2"):
        model.decode(1.0)


def test_save_and_auto_load_round_trip(bert, tmp_path):
    model = _direction(bert[0], coordinates=torch.tensor([1, 2, 40]), objective="masked_lm")
    model.save_pretrained(tmp_path)
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in tmp_path.iterdir()}
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "gradiend" and config["feature_classes"] == ["3SG", "3PL"]
    assert "coordinates" not in config and config["pruned"] is True
    assert config["base_model_architecture"] == "BertForMaskedLM" and config["param_fingerprint"]
    assert load_file(tmp_path / "model.safetensors")["coordinates"].tolist() == [1, 2, 40]
    assert isinstance(AutoConfig.from_pretrained(tmp_path), GradiendConfig)
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, GradiendModel)
    assert torch.equal(loaded.coordinates, model.coordinates)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_from_pretrained_resolves_a_hub_id_from_the_offline_cache(bert, tmp_path, monkeypatch):
    model = _direction(bert[0])
    snapshot = tmp_path / "hub" / "models--org--direction" / "snapshots" / ("a" * 40)
    model.save_pretrained(snapshot)
    (tmp_path / "hub" / "models--org--direction" / "refs").mkdir()
    (tmp_path / "hub" / "models--org--direction" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = AutoModel.from_pretrained("org/direction", cache_dir=tmp_path / "hub")
    assert torch.equal(loaded.decoder.weight, model.decoder.weight)


def test_push_to_hub_uploads_config_and_weights_without_network(bert):
    model = _direction(bert[0])
    uploaded = {}

    def fake_create_commit(self, repo_id, operations, **kwargs):
        for op in operations:
            source = op.path_or_fileobj
            uploaded[op.path_in_repo] = Path(source).read_bytes() if isinstance(source, (str, os.PathLike)) else source
        return mock.MagicMock(commit_url="https://hf.co/org/direction/commit/1", oid="1")

    with (
        mock.patch("huggingface_hub.HfApi.create_repo", return_value=mock.MagicMock(repo_id="org/direction")),
        mock.patch("huggingface_hub.HfApi.create_commit", fake_create_commit),
        mock.patch("huggingface_hub.HfApi.model_info", side_effect=Exception("offline")),
        mock.patch("huggingface_hub.HfApi._validate_yaml", return_value=None),
    ):
        model.push_to_hub("org/direction")
    assert {"config.json", "model.safetensors", "README.md"} <= set(uploaded)
    assert json.loads(uploaded["config.json"])["model_type"] == "gradiend"
    card = uploaded["README.md"].decode()
    assert "3SG" in card and "org/direction" in card and "AutoModel.from_pretrained" in card


def test_check_base_model_names_the_first_differing_parameter(bert):
    model = _direction(bert[0])
    model.check_base_model(bert[0])
    tokenizer = tiny_wordpiece_tokenizer()
    other = tiny_bert(tokenizer)
    other.bert.encoder.layer[1].output.dense = torch.nn.Linear(32, 8)
    with pytest.raises(ParameterMismatchError, match=r"bert\.encoder\.layer\.1\.output\.dense\.weight.*\(8, 32\)"):
        model.check_base_model(other)


def test_rescale_encoder_restores_the_pre_activations_pruning_shrank(bert):
    full = _direction(bert[0])
    with torch.no_grad():
        full.encoder.weight.copy_(torch.randn_like(full.encoder.weight))
    pruned = full.prune(0.1)
    decoder_before = pruned.decoder.weight.clone()
    x = torch.randn(32, full.config.input_dim)
    target = x @ full.encoder.weight.T
    local = torch.searchsorted(full.kept_coordinates, pruned.kept_coordinates)
    before = x[:, local] @ pruned.encoder.weight.T
    scale = pruned.rescale_encoder_(full, x)
    after = x[:, local] @ pruned.encoder.weight.T
    assert scale > 1  # 90 % of the input is gone, so the pre-activations had shrunk
    assert ((after - target) ** 2).sum() < ((before - target) ** 2).sum()
    # least squares: the residual is orthogonal to the fitted pre-activations
    assert float(((target - after) * after).sum()) == pytest.approx(0.0, abs=1e-3 * float((target * target).sum()))
    assert torch.equal(pruned.decoder.weight, decoder_before)


def test_rescale_encoder_refuses_a_reference_without_its_coordinates(bert):
    full = _direction(bert[0])
    first = full.prune(0.1, part="decoder-weight")
    other = _direction(bert[0], coordinates=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="does not contain"):
        first.rescale_encoder_(other, torch.randn(4, 3))
