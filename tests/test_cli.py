import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import skspectral._cli as cli
from skspectral._cli import _build_parser, main, run_demo


def test_demo_writes_png_and_reports(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "--out", str(out), "--n-samples", "100", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert out.stat().st_size > 1000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for field in ("held-out MSE", "spectral (class-conditional)", "PCA + GMM (scikit-learn)",
                  "real images (fitted on)"):
        assert field in printed


def test_demo_default_is_class_conditional_library_model(tmp_path):
    args = _build_parser().parse_args(["demo", "--out", str(tmp_path / "d.png"),
                                       "--n-samples", "200"])
    report = run_demo(args, stream=io.StringIO())
    # Drawn by class, the digits are labelled as asked; the peer has no classes.
    assert report["accuracy"] > 0.8
    assert report["baseline"]["accuracy"] is None
    assert 0 <= report["confident"] <= 1 and report["baseline"]["confident"] > 0.3
    assert report["nn_ratio"] > 0.5


def test_demo_unconditional_flag(tmp_path, capsys):
    main(["demo", "--unconditional", "--n-samples", "50", "--out", str(tmp_path / "u.png")])
    printed = capsys.readouterr().out
    assert "class-conditional" not in printed and "spectral " in printed


def test_demo_on_user_array(tmp_path, capsys):
    path = tmp_path / "imgs.npy"
    np.save(path, (np.random.RandomState(0).rand(60, 6, 6) * 255).astype(np.uint8))
    main(["demo", "--dataset", str(path), "--model", "pca", "--out", str(tmp_path / "a.png")])
    printed = capsys.readouterr().out
    # No labels: nothing to condition on or judge with, so no classifier columns.
    assert "48 images to fit, 12 held out, of shape (6, 6)" in printed
    assert "real images (fitted on)" not in printed


def test_module_entry_point_help():
    result = subprocess.run(
        [sys.executable, "-m", "skspectral", "demo", "--help"], capture_output=True, text=True, check=True
    )
    assert "--model" in result.stdout and "--device" in result.stdout


# -- arguments are checked before anything is fitted ------------------------------------


@pytest.fixture
def no_fit(monkeypatch):
    """Fail the test if the demo gets as far as fitting a model."""
    def fit(*args, **kwargs):
        raise AssertionError("the demo fitted a model before refusing its arguments")

    monkeypatch.setattr(cli, "_timed_fit", fit)


@pytest.fixture
def no_load(monkeypatch, no_fit):
    """Fail the test if the demo loads the dataset (the arguments alone are wrong)."""
    def load(*args, **kwargs):
        raise AssertionError("the demo loaded the dataset before refusing its arguments")

    monkeypatch.setattr(cli, "load_demo_dataset", load)


def _unwritable_folder(tmp_path):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root writes anyway: /proc refuses even root
        if not Path("/proc").is_dir():
            pytest.skip("no folder this user cannot write to")
        return Path("/proc")
    return folder


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--n-train", "0"], "argument --n-train: must be an int >= 1; got 0"),
        (["--n-train", "-5"], "argument --n-train: must be an int >= 1; got -5"),
        (["--n-train", "ten"], "argument --n-train: invalid int value: 'ten'"),
        (["--n-samples", "0"], "argument --n-samples: must be an int >= 1; got 0"),
        (["--dataset", "mnsit"], "--dataset 'mnsit' is neither a known dataset (digits, "
                                 "mnist, fashion_mnist, cifar10) nor an existing file"),
        (["--out", "{tmp}/missing/demo.png"], "the folder '{tmp}/missing' does not exist"),
        (["--out", "{tmp}/demo.txt"], "its extension is '.txt'; matplotlib writes"),
        (["--out", "{tmp}/demo"], "it has no extension; matplotlib writes"),
        (["--out", "{tmp}/folder.png"], "is a folder; give a file name in it"),
        (["--device", "gpu"], "--device must be auto, cpu, cuda, cuda:N or mps; got 'gpu'."),
        (["--device", "cuda:x"], "--device must be auto, cpu, cuda, cuda:N or mps; got "
                                 "'cuda:x'."),
    ],
)
def test_demo_refuses_bad_arguments_before_loading_or_fitting(tmp_path, capsys, no_load, argv,
                                                              message):
    (tmp_path / "folder.png").mkdir()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "demo.png")]
    try:
        code = main(["demo", *argv])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    assert code == 2
    assert message.replace("{tmp}", str(tmp_path)) in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["folder.png"]  # nothing written


def test_demo_refuses_an_unwritable_output_folder(tmp_path, capsys, no_load):
    folder = _unwritable_folder(tmp_path)
    assert main(["demo", "--out", str(folder / "demo.png")]) == 2
    assert f"cannot write in the folder '{folder}'" in capsys.readouterr().err


def test_run_demo_raises_a_value_error_before_fitting(tmp_path, no_load):
    args = _build_parser().parse_args(["demo", "--out", str(tmp_path / "demo.png"),
                                       "--dataset", str(tmp_path / "absent.npy")])
    with pytest.raises(ValueError, match="--dataset .*absent.npy' is neither a known dataset"):
        run_demo(args, stream=io.StringIO())
    args.n_train = 0  # run_demo is called without the parser too
    with pytest.raises(cli.DemoArgumentError, match="--n-train must be an int >= 1; got 0"):
        run_demo(args, stream=io.StringIO())


def test_demo_refuses_too_few_images_to_fit_before_fitting(tmp_path, capsys, no_fit):
    # Was: the library model fitted, then the peer's PCA(32) failed on 24 images.
    assert main(["demo", "--n-train", "30", "--out", str(tmp_path / "d.png")]) == 2
    assert ("--n-train 30 leaves 24 images to fit on (20% are held out), fewer than the 32 "
            "the demo's models need; use at least 40 images.") in capsys.readouterr().err
    # Labelled (>= 4 images per class): half held out.
    assert main(["demo", "--n-train", "60", "--out", str(tmp_path / "d.png")]) == 2
    assert "leaves 30 images to fit on (50% are held out)" in capsys.readouterr().err
    path = tmp_path / "imgs.npy"
    np.save(path, np.zeros((20, 6, 6), dtype=np.uint8))
    assert main(["demo", "--dataset", str(path), "--out", str(tmp_path / "d.png")]) == 2
    assert (f"--dataset '{path}' (20 images) leaves 16 images to fit on (20% are held out), "
            "fewer than the 32") in capsys.readouterr().err


@pytest.mark.parametrize("name", ["demo.png", "demo.PDF", "demo.svg", "demo.jpg"])
def test_demo_accepts_outputs_matplotlib_writes(tmp_path, name):
    cli._check_out(str(tmp_path / name))
    assert list(tmp_path.iterdir()) == []  # the write check leaves nothing behind


# -- packaging: one version, py.typed, type hints -----------------------------------------


def test_installed_metadata_has_the_package_version():
    # pyproject.toml reads the version from skspectral/_version.py: one source.
    import importlib.metadata

    import skspectral

    assert importlib.metadata.version("skspectral") == skspectral.__version__


def test_package_is_marked_typed():
    import tomllib

    import skspectral

    # PEP 561: the marker is in the package and shipped as package data.
    assert (Path(skspectral.__file__).parent / "py.typed").is_file()
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not run from a source checkout")
    config = tomllib.loads(pyproject.read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["skspectral"]


@pytest.mark.parametrize("module, names", [
    ("skspectral.metrics._density", ["dequantize", "bits_per_dim"]),
    ("skspectral.metrics._pixel", ["psnr"]),
    ("skspectral.io", ["dump", "get_trusted_types", "load"]),
])
def test_public_signatures_have_type_hints(module, names):
    import importlib
    import inspect
    import typing

    module = importlib.import_module(module)
    for name in names:
        function = getattr(module, name)
        hints = typing.get_type_hints(function)  # every hint resolves
        parameters = inspect.signature(function).parameters
        assert set(parameters) | {"return"} == set(hints), name


def test_version_option_prints_the_version(capsys):
    import skspectral

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"skspectral {skspectral.__version__}"


# -- a bare command prints help, runs nothing ------------------------------------------


def test_bare_command_prints_help_and_runs_nothing(tmp_path, monkeypatch, capsys, no_load):
    monkeypatch.chdir(tmp_path)  # where the demo would write skspectral_demo.png
    assert main([]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("usage: skspectral") and "demo" in printed
    assert list(tmp_path.iterdir()) == []


def test_bare_console_command_exits_zero_with_help(tmp_path):
    result = subprocess.run([sys.executable, "-m", "skspectral"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: skspectral" in result.stdout and result.stderr == ""
    assert list(tmp_path.iterdir()) == []


# -- a device this machine lacks: one line, no traceback --------------------------------


@pytest.mark.parametrize("device, available, message", [
    ("mps", torch.backends.mps.is_available(), "--device is 'mps' but MPS (Apple's Metal) is "
                                               "not available on this machine; use --device "
                                               "cpu or --device auto."),
    ("cuda:0", torch.cuda.is_available(), "--device is 'cuda:0' but CUDA is not available on "
                                          "this machine; use --device cpu or --device auto."),
])
def test_missing_device_is_a_one_line_error(tmp_path, capsys, no_load, device, available,
                                            message):
    if available:
        pytest.skip(f"this machine has {device}")
    assert main(["demo", "--device", device, "--out", str(tmp_path / "d.png")]) == 2
    err = capsys.readouterr().err
    assert err == f"skspectral demo: error: {message}\n"


def test_missing_device_from_the_console_has_no_traceback(tmp_path):
    if torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    result = subprocess.run([sys.executable, "-m", "skspectral", "demo", "--device", "mps",
                             "--out", str(tmp_path / "d.png")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert "--device is 'mps'" in result.stderr
