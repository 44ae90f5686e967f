"""Device choice, resolved once for app, CLI and trainer: `auto` falls back to the CPU, a bad or missing device is one line."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from foundation.devices import DeviceError, available_devices, resolve_device
from retrieval_app.cli.main import main
from trainer.devices import describe_device


@pytest.fixture
def no_accelerators(monkeypatch):
    """A machine without CUDA or MPS (torch's own MPS check is left alone: torch.fx inspects it)."""
    from foundation import devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)


def test_auto_without_accelerators_is_the_cpu_and_says_how_many_threads(no_accelerators):
    device = resolve_device("auto")
    assert device.type == "cpu"
    assert describe_device(device) == f"cpu ({torch.get_num_threads()} threads)"
    assert available_devices() == [("auto", "Automatic (GPU when present)"), ("cpu", "CPU")]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("cuda", "torch sees no CUDA GPU"),
        ("cuda:1", "torch sees no CUDA GPU"),
        ("mps", "no MPS support"),
        ("bogus", "unknown device 'bogus': use auto, cpu, cuda, cuda:N or mps"),
        ("cpu:1", "unknown device"),
        ("", "unknown device"),
    ],
)
def test_a_bad_or_missing_device_is_refused_in_plain_words(no_accelerators, name, reason):
    with pytest.raises(DeviceError, match=reason):
        resolve_device(name)


def test_a_gpu_number_beyond_the_gpus_present_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(DeviceError, match="torch sees 1 CUDA GPU"):
        resolve_device("cuda:1")


def test_the_embedder_resolves_its_device_the_same_way(no_accelerators, tiny_checkpoint):
    from retrieval_app.core.embedder import Embedder

    assert Embedder(str(tiny_checkpoint), device="cpu").device == torch.device("cpu")
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        Embedder(str(tiny_checkpoint), device="cuda")


@pytest.mark.parametrize(
    ("command", "device"),
    [("index", "bogus"), ("index", "cuda"), ("search", "bogus"), ("search", "cuda"), ("train", "cuda")],
)
def test_cli_device_errors_are_one_line_with_exit_2(
    tmp_path, capsys, no_accelerators, tiny_checkpoint, command, device
):
    photos = tmp_path / "photos"
    (photos / "a").mkdir(parents=True)
    Image.new("RGB", (32, 32), (90, 20, 200)).save(photos / "a" / "q.jpg")
    library = tmp_path / "lib"
    argv = {
        "index": ["index", str(photos), "--model", str(tiny_checkpoint)],
        "search": ["search", str(photos / "a" / "q.jpg")],
        "train": ["train", str(photos), "--out", str(tmp_path / "m.safetensors")],
    }[command]
    code = main(["--library", str(library), *argv, "--device", device])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    expected = "unknown device" if device == "bogus" else "no CUDA GPU"
    assert expected in err, err
    assert not (library / "catalogue.sqlite").exists(), "the library was opened before the device was checked"


def test_the_trainer_refuses_an_unknown_device_name_while_parsing(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", str(tmp_path), "--out", str(tmp_path / "m.safetensors"), "--device", "bogus"])
    assert stop.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
