"""The dinov2 and clip backbones offline: ganbench's DINOv2 ViT against torch-fidelity's extractor
and (where present) the official code and weights, CLIP through torch-fidelity's model code, where
their weights are looked up, the one-line errors without them, and whole runs on weights files
made here (random weights, small shapes)."""

import json
import os
from pathlib import Path

import pytest
import torch
import torch_fidelity.feature_extractor_dinov2 as tf_dinov2
from torch_fidelity.feature_extractor_clip import FeatureExtractorCLIP

from ganbench.cli import main
from ganbench.errors import UserError
from ganbench.metrics import EVALUATION_SETTINGS
from ganbench.metrics.backbones import BACKBONES, sha256_file
from ganbench.metrics.vit import architecture, dinov2_from_state_dict, random_dinov2_state
from ganbench.metrics.vit_backbones import (
    ClipFeatureExtractor,
    DinoV2FeatureExtractor,
    clip_file,
    dinov2_file,
    dinov2_url,
    hub_checkpoint,
    write_random_clip,
)
from ganbench.settings import resolve

# torch-fidelity's own DINOv2 test (tests/torch_pure/fe_dinov2/test_dinov2_fe.py): ViT-B/14 on one
# seeded random 32x32 image; the sum of its 768 features, to within 1e-4.
TORCH_FIDELITY_DINOV2_B14_SUM = -34.6249580383
REAL_HUB = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"


@pytest.fixture(autouse=True)
def empty_torch_hub(tmp_path, monkeypatch):
    """A torch home without any weights, whatever this machine has cached."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


@pytest.fixture(scope="module")
def dinov2_weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dinov2") / "tiny-dinov2.pth"
    torch.save(random_dinov2_state(width=32, depth=2), path)
    return path


@pytest.fixture(scope="module")
def clip_weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "tiny-clip.pt"
    write_random_clip(path)
    return path


def options(**overrides):
    return resolve(EVALUATION_SETTINGS, "eval", overrides)


def images(count=3, size=32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8, generator=generator)


def test_dinov2_architecture_is_read_from_the_state_dict_shapes():
    small = architecture(random_dinov2_state(width=384, depth=1))
    shape = (small.width, small.depth, small.heads, small.hidden, small.swiglu, small.grid)
    assert shape == (384, 1, 6, 1536, False, 37)
    assert small.describe() == "ViT/14 (1 blocks, width 384, 6 heads)"
    giant = architecture({key: value for key, value in random_dinov2_state(width=64, swiglu=True).items()})
    assert giant.swiglu and giant.hidden == 176
    with pytest.raises(ValueError, match="patch_embed.proj.weight"):
        architecture({"cls_token": torch.zeros(1, 1, 8)})


def test_dinov2_extractor_equals_torch_fidelitys_with_the_same_network(dinov2_weights, monkeypatch):
    """torch-fidelity's dinov2-vit-b-14 extractor (resize to 224 TF1-exactly, ImageNet
    normalisation) around ganbench's network gives ganbench's extractor's features bit for bit."""
    state = torch.load(dinov2_weights, weights_only=True)
    monkeypatch.setattr(torch.hub, "load", lambda *args, **kwargs: dinov2_from_state_dict(state))
    reference = tf_dinov2.FeatureExtractorDinoV2("dinov2-vit-b-14", ["dinov2"])
    ours = DinoV2FeatureExtractor("ganbench-dinov2", ["dinov2"], feature_extractor_weights_path=str(dinov2_weights))
    x = images()
    with torch.no_grad():
        expected, got = reference(x)[0], ours(x)[0]
    assert got.shape == (3, 32) and torch.equal(got, expected)
    ours.resize = "clean"  # another resize gives other features
    assert not torch.allclose(ours(x)[0], expected, atol=1e-4)


def test_dinov2_matches_the_official_code_where_it_is_installed():
    """Against facebookresearch/dinov2's own DinoVisionTransformer (the hub's model) on random
    weights of ViT-S/14's width and ViT-g's SwiGLU: skipped unless its ``dinov2`` package imports."""
    vision_transformer = pytest.importorskip("dinov2.models.vision_transformer")
    layers = pytest.importorskip("dinov2.layers")
    from functools import partial

    for width, heads, swiglu in ((384, 6, False), (128, 2, True)):
        official = vision_transformer.DinoVisionTransformer(
            patch_size=14, img_size=518, init_values=1.0, block_chunks=0, interpolate_offset=0.1,
            ffn_layer="swiglufused" if swiglu else "mlp", depth=2, embed_dim=width, num_heads=heads,
            block_fn=partial(layers.NestedTensorBlock, attn_class=layers.MemEffAttention)).eval()
        state = random_dinov2_state(width=width, depth=2, swiglu=swiglu)
        official.load_state_dict(state, strict=True)
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            torch.testing.assert_close(dinov2_from_state_dict(state)(x), official(x), rtol=0, atol=1e-5)


@pytest.mark.skipif(not (REAL_HUB / dinov2_file("b")).is_file(),
                    reason="no real DINOv2 ViT-B/14 in the torch hub cache")
def test_real_dinov2_vitb14_gives_torch_fidelitys_known_value():
    path = REAL_HUB / dinov2_file("b")
    extractor = DinoV2FeatureExtractor("ganbench-dinov2", ["dinov2"], feature_extractor_weights_path=str(path))
    x = torch.randint(256, (1, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2023))
    with torch.no_grad():
        checksum = extractor(x)[0].sum().item()
    assert checksum == pytest.approx(TORCH_FIDELITY_DINOV2_B14_SUM, abs=1e-4)


def test_clip_extractor_is_torch_fidelitys_on_a_torchscript_file(clip_weights):
    reference = FeatureExtractorCLIP("clip-vit-b-32", ["clip"], feature_extractor_weights_path=str(clip_weights))
    ours = ClipFeatureExtractor("ganbench-clip", ["clip"], feature_extractor_weights_path=str(clip_weights))
    x = images(size=20)
    with torch.no_grad():
        got = ours(x)[0]
        assert got.shape == (3, 16) and torch.equal(got, reference(x)[0])
        grey = x[:, :1].expand(-1, 3, -1, -1)
        assert torch.isfinite(ours(grey.float())[0]).all()
    assert ours.name == "ganbench-clip"


@pytest.mark.parametrize("backbone, setting, file_name, url", [
    ("dinov2", "dinov2_weights", dinov2_file("l"), dinov2_url("l")),
    ("clip", "clip_weights", clip_file("vit-l-14-336px"), "https://openaipublic.azureedge.net/clip/models/"),
])
def test_missing_weights_are_one_error_line_with_exit_2(backbone, setting, file_name, url, shared_data, tmp_path,
                                                        capsys):
    out = tmp_path / "out"
    code = main(["run", "--suite", "mnist", "--budget", "smoke", "--data-root", str(shared_data), "--split", "test",
                 "--variants", "fc", "--set",
                 f"eval.backbone={backbone}", "--out", str(out), "--no-progress"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and error.startswith("ganbench: error: the ")
    assert file_name in error and url in error and str(hub_checkpoint(file_name).parent) in error
    assert f"--set eval.{setting}=PATH" in error and "--download" in error
    assert not out.exists()


def test_weights_are_found_in_the_torch_hub_cache_and_checked(dinov2_weights, clip_weights, tmp_path):
    for name, source, cached in (("dinov2", dinov2_weights, hub_checkpoint(dinov2_file("l"))),
                                 ("clip", clip_weights, hub_checkpoint(clip_file("vit-l-14-336px")))):
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.symlink_to(source)
        weights = BACKBONES.get(name).locate(None, options(), False)
        assert weights.path == cached and weights.sha256 == sha256_file(source)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="is not a DINOv2 ViT/14 checkpoint"):
        BACKBONES.get("dinov2").locate(None, options(dinov2_weights=str(garbage)), False)
    with pytest.raises(UserError, match="is not a TorchScript CLIP model"):
        BACKBONES.get("clip").locate(None, options(clip_weights=str(dinov2_weights)), False)
    vits = tmp_path / "vits.pth"
    torch.save(random_dinov2_state(width=384, depth=12, grid=2), vits)
    with pytest.raises(UserError, match="holds DINOv2 ViT-S/14, not the ViT-L/14 of eval.dinov2_size=l"):
        BACKBONES.get("dinov2").locate(None, options(dinov2_weights=str(vits)), False)
    assert BACKBONES.get("dinov2").locate(None, options(dinov2_weights=str(vits), dinov2_size="s"), False)


def test_lenet_refuses_a_preprocessing_it_cannot_do(shared_data, tmp_path, capsys):
    code = main(["run", "--suite", "mnist", "--budget", "smoke", "--data-root", str(shared_data), "--split", "test",
                 "--variants", "fc", "--set", "eval.resize=clean",
                 "--out", str(tmp_path / "out"), "--no-progress"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert "backbone lenet reads uint8 images with its own fixed resize (none)" in error


def run_mnist(shared_data, out, backbone, *settings):
    return main(["run", "--suite", "mnist", "--budget", "smoke", "--data-root", str(shared_data), "--split", "test",
                 "--variants", "fc", "--iterations", "2", "--set", f"eval.backbone={backbone}",
                 "--set", "eval.samples=64", "--set", "eval.reference_samples=64", "--set", "eval.kid_subset_size=32",
                 "--set", "eval.fid_bootstrap=10", "--set", "eval.fid_infinity=0",
                 *[part for setting in settings for part in ("--set", setting)], "--out", str(out), "--no-progress"])


def test_mnist_smoke_on_dinov2_and_clip_records_them_and_reports_a_table_each(
        shared_data, dinov2_weights, clip_weights, tmp_path):
    out = tmp_path / "out"
    assert run_mnist(shared_data, out, "dinov2", f"eval.dinov2_weights={dinov2_weights}") == 0
    assert run_mnist(shared_data, out, "clip", f"eval.clip_weights={clip_weights}", "eval.resize=clean",
                     "eval.quantise=float") == 0
    records = {record["config"]["evaluation"]["backbone"]: record
               for record in map(json.loads, (out / "records.jsonl").read_text().splitlines())}
    for name, weights, resize, quantise in (("dinov2", dinov2_weights, "tf1", "uint8"),
                                            ("clip", clip_weights, "clean", "float")):
        metrics = records[name]["metrics"]
        assert records[name]["status"] == "finished"
        assert metrics["fidelity_backbone"] == name and metrics["fidelity_weights_sha256"] == sha256_file(weights)
        assert (metrics["fidelity_resize"], metrics["fidelity_quantise"]) == (resize, quantise)
        assert all(torch.isfinite(torch.tensor(metrics[key])) for key in ("fid", "kid_mean", "precision", "coverage"))
        assert "is_mean" not in metrics  # no class logits: no Inception Score
    summary = (out / "summary.md").read_text()
    dinov2_line = next(line for line in summary.splitlines() if line.startswith("Protocol:") and "dinov2" in line)
    clip_line = next(line for line in summary.splitlines() if line.startswith("Protocol:") and "clip" in line)
    assert dinov2_line != clip_line and "resize tf1, uint8 samples" in dinov2_line
    assert "resize clean, float samples" in clip_line
    assert "| FD-DINOv2 (dinov2, N = 64 vs M = 64) ↓" in summary and "KID-DINOv2 ×10³" in summary
    assert "| FD-CLIP (clip, N = 64 vs M = 64) ↓" in summary and "| FID " not in summary


def test_download_only_when_asked_and_a_wrong_clip_file_saves_nothing(dinov2_weights, monkeypatch):
    import io
    import urllib.request

    requested = []

    def serve(data):
        def urlopen(url, timeout):
            requested.append(url)
            return io.BytesIO(data)
        return urlopen

    monkeypatch.setattr(urllib.request, "urlopen", serve(dinov2_weights.read_bytes()))
    weights = BACKBONES.get("dinov2").locate(None, options(dinov2_size="b"), True)
    assert requested == [dinov2_url("b")] and weights.path == hub_checkpoint(dinov2_file("b"))
    assert weights.sha256 == sha256_file(dinov2_weights)
    monkeypatch.setattr(urllib.request, "urlopen", serve(b"not OpenAI's file"))
    with pytest.raises(UserError, match="does not have the expected sha256"):
        BACKBONES.get("clip").locate(None, options(clip_model="vit-b-32"), True)
    assert not hub_checkpoint(clip_file("vit-b-32")).exists()


@pytest.mark.slow  # the whole smoke matrix (4 variants, 500 samples against 200): about a minute on 2 loaded cores
def test_the_issues_acceptance_command_runs_the_mnist_smoke_on_dinov2(shared_data, dinov2_weights, tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--suite", "mnist", "--budget", "smoke", "--data-root", str(shared_data), "--split", "test",
                 "--set", "eval.backbone=dinov2", "--set", f"eval.dinov2_weights={dinov2_weights}",
                 "--out", str(out), "--no-progress"]) == 0
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert sorted(record["config"]["variant"] for record in records) == ["dcgan", "fc", "msggan", "progan"]
    for record in records:
        assert record["status"] == "finished" and record["metrics"]["fidelity_backbone"] == "dinov2"
        assert record["metrics"]["fidelity_weights_sha256"] == sha256_file(dinov2_weights)
    summary = (out / "summary.md").read_text()
    assert summary.count("Protocol:") == 1 and "fidelity: dinov2 (weights sha256" in summary
    assert "FD∞-DINOv2" in summary and "FD-DINOv2 (dinov2, N = 500 vs M = 200)" in summary
