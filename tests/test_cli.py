import subprocess
import sys

from skspectral._cli import main


def test_demo_writes_png_and_reports(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "--out", str(out), "--n-samples", "8", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert out.stat().st_size > 1000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for field in ("training time", "held-out MSE", "nearest-train"):
        assert field in printed


def test_demo_on_user_array(tmp_path, capsys):
    import numpy as np

    path = tmp_path / "imgs.npy"
    np.save(path, (np.random.RandomState(0).rand(60, 6, 6) * 255).astype(np.uint8))
    main(["demo", "--dataset", str(path), "--model", "pca", "--out", str(tmp_path / "a.png")])
    assert "48 train / 12 held-out images of shape (6, 6)" in capsys.readouterr().out


def test_module_entry_point_help():
    result = subprocess.run(
        [sys.executable, "-m", "skspectral", "demo", "--help"], capture_output=True, text=True, check=True
    )
    assert "--model" in result.stdout and "--device" in result.stdout
