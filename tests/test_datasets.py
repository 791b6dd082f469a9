import gzip
import io
import pickle
import tarfile

import numpy as np
import pooch
import pytest
from PIL import Image

from skspectral.datasets import (
    _fetch,
    fetch_cifar10,
    fetch_fashion_mnist,
    fetch_mnist,
    get_data_home,
    load_digits_images,
    load_images,
)


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _register(monkeypatch, spec_name, folder):
    """Point a dataset's registry at the hashes of locally generated files."""
    spec = getattr(_fetch, spec_name)
    files = {f: "md5:" + pooch.file_hash(str(folder / f), alg="md5") for f in spec["files"]}
    monkeypatch.setitem(spec, "files", files)
    monkeypatch.setitem(spec, "urls", ["http://127.0.0.1:9/unreachable/"])


@pytest.fixture
def fake_mnist(tmp_path):
    rng = np.random.RandomState(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for prefix, n in (("train", 12), ("t10k", 5)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.randint(0, 256, (n, 28, 28)))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.randint(0, 10, n))
    return tmp_path


def test_fetch_mnist_reads_idx_files(fake_mnist, monkeypatch):
    _register(monkeypatch, "MNIST", fake_mnist / "mnist")
    train = fetch_mnist(data_home=fake_mnist)
    assert train.images.shape == (12, 28, 28)
    assert train.data.shape == (12, 784) and train.data.dtype == np.float32
    assert 0.0 <= train.data.min() and train.data.max() <= 1.0
    np.testing.assert_allclose(train.data[0], train.images[0].ravel() / 255.0, rtol=1e-6)
    assert train.image_shape == (28, 28)
    test = fetch_mnist(data_home=fake_mnist, subset="test", n_samples=3)
    assert test.data.shape == (3, 784) and test.target.shape == (3,)


def test_env_var_sets_data_home(fake_mnist, monkeypatch):
    _register(monkeypatch, "MNIST", fake_mnist / "mnist")
    monkeypatch.setenv("SKSPECTRAL_DATA", str(fake_mnist))
    assert get_data_home() == fake_mnist
    assert fetch_mnist(n_samples=2).data.shape == (2, 784)


def test_missing_file_says_where_to_put_it(tmp_path):
    with pytest.raises(OSError, match=r"missing.*train-images-idx3-ubyte.gz"):
        fetch_fashion_mnist(data_home=tmp_path, download_if_missing=False)


def test_download_failure_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(_fetch.MNIST, "urls", ["http://127.0.0.1:9/unreachable/"])
    with pytest.raises(OSError, match=r"mnist.*missing.*Download failed"):
        fetch_mnist(data_home=tmp_path)


def test_corrupted_file_is_never_used(fake_mnist):
    # The generated files do not have the official hashes.
    with pytest.raises(OSError, match="corrupted"):
        fetch_mnist(data_home=fake_mnist)


@pytest.mark.parametrize("kwargs, match", [({"subset": "val"}, "subset"), ({"n_samples": 0}, "n_samples")])
def test_bad_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        fetch_mnist(data_home=tmp_path, **kwargs)


def _cifar_batch(rng, n, offset):
    data = rng.randint(0, 256, (n, 3072)).astype(np.uint8)
    return {b"data": data, b"labels": list((np.arange(n) + offset) % 10)}


def test_fetch_cifar10_reads_the_official_archive_format(tmp_path, monkeypatch):
    rng = np.random.RandomState(0)
    folder = tmp_path / "cifar10"
    folder.mkdir()
    batches = {f"data_batch_{i}": _cifar_batch(rng, 4, i) for i in range(1, 6)}
    batches["test_batch"] = _cifar_batch(rng, 3, 0)
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tar:
        for name, batch in batches.items():
            raw = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    _register(monkeypatch, "CIFAR10", folder)
    train = fetch_cifar10(data_home=tmp_path)
    assert train.images.shape == (20, 32, 32, 3) and train.data.shape == (20, 3072)
    # CIFAR rows are channel-major; images are (H, W, C).
    first = batches["data_batch_1"][b"data"][0].reshape(3, 32, 32)
    np.testing.assert_array_equal(train.images[0], first.transpose(1, 2, 0))
    assert fetch_cifar10(data_home=tmp_path, subset="test").data.shape == (3, 3072)
    assert fetch_cifar10(data_home=tmp_path, n_samples=6).data.shape == (6, 3072)


def test_load_digits_images():
    digits = load_digits_images(n_samples=10)
    assert digits.images.shape == (10, 8, 8)
    assert digits.data.dtype == np.float32 and digits.data.max() <= 1.0
    assert digits.target.shape == (10,)


def test_load_images_from_folder_and_glob(tmp_path):
    rng = np.random.RandomState(0)
    for i in range(3):
        Image.fromarray(rng.randint(0, 256, (6, 5, 3)).astype(np.uint8)).save(tmp_path / f"{i}.png")
    bunch = load_images(tmp_path)
    assert bunch.images.shape == (3, 6, 5, 3) and bunch.data.shape == (3, 90)
    grey = load_images(str(tmp_path / "*.png"), grayscale=True, size=(4, 4))
    assert grey.images.shape == (3, 4, 4) and grey.image_shape == (4, 4)


def test_load_images_mixed_sizes_needs_size(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(ValueError, match="size="):
        load_images(tmp_path)
    assert load_images(tmp_path, size=(3, 3)).data.shape == (2, 9)


def test_load_images_from_arrays(tmp_path):
    images = np.random.rand(4, 5, 5).astype(np.float32)
    np.savez(tmp_path / "x.npz", images=images)
    bunch = load_images(tmp_path / "x.npz", target=np.arange(4))
    np.testing.assert_allclose(bunch.data, images.reshape(4, -1))
    np.save(tmp_path / "bad.npy", np.zeros(5))
    with pytest.raises(ValueError, match="expected"):
        load_images(tmp_path / "bad.npy")
    with pytest.raises(FileNotFoundError):
        load_images(tmp_path / "none")


def test_real_mnist_from_shared_data(shared_data):
    train = fetch_mnist(data_home=shared_data, n_samples=100, download_if_missing=False)
    assert train.data.shape == (100, 784)
    assert list(train.target[:5]) == [5, 0, 4, 1, 9]
    test = fetch_mnist(data_home=shared_data, subset="test", download_if_missing=False)
    assert test.data.shape == (10000, 784)


def test_shared_cifar_arrays_with_load_images(shared_data):
    bunch = load_images(shared_data / "cifar10" / "test_images.npy", n_samples=8)
    assert bunch.images.shape == (8, 32, 32, 3) and bunch.image_shape == (32, 32, 3)


@pytest.mark.parametrize(
    "array, match",
    [
        (np.zeros((0, 4, 4)), "shape"),
        (np.zeros((3, 0, 4)), "shape"),
        (np.zeros((2, 3, 3, 2, 2)), "shape"),
        (np.arange(10.0), "shape"),
        (np.full((2, 4, 4), np.nan), "NaN or infinite"),
        (np.full((2, 4, 4), 300.0), r"values in \[300, 300\]"),
        (np.full((2, 4, 4), -1, dtype=np.int64), "8-bit"),
        (np.full((2, 4, 4), 70000, dtype=np.int64), "16-bit"),
    ],
)
def test_load_images_refuses_bad_arrays(tmp_path, array, match):
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(ValueError, match=match):
        load_images(tmp_path / "x.npy")


def test_load_images_refuses_object_and_complex_arrays(tmp_path):
    np.save(tmp_path / "o.npy", np.array([[[1, "a"]]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a readable NumPy image file"):
        load_images(tmp_path / "o.npy")
    np.save(tmp_path / "c.npy", np.ones((2, 3, 3), dtype=complex))
    with pytest.raises(TypeError, match="dtype complex128"):
        load_images(tmp_path / "c.npy")


@pytest.mark.parametrize(
    "dtype, value, expected", [(np.int64, 200, 200 / 255), (np.uint16, 1000, 1000 / 65535),
                               (bool, True, 1.0), (np.uint8, 51, 0.2)],
)
def test_load_images_rescales_integer_images(tmp_path, dtype, value, expected):
    np.save(tmp_path / "x.npy", np.full((2, 3, 3), value, dtype=dtype))
    data = load_images(tmp_path / "x.npy").data
    assert data.dtype == np.float32
    np.testing.assert_allclose(data, expected, rtol=1e-6)


def test_load_images_refuses_bool_n_samples(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="'n_samples' parameter"):
        load_images(tmp_path / "x.npy", n_samples=True)
