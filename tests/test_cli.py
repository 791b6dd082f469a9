import io
import subprocess
import sys

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
    import numpy as np

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
