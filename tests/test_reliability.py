"""No silent nonsense: the divergence guard, bounded memory, strict parameters."""

import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import skspectral._backend._batches as batches_module
from skspectral import (
    CoefficientPrior,
    ConvSparseCoder,
    SparseSupportMRF,
    SpectralDictionary,
    SpectrumRefiner,
    orthogonal_mp_batch,
)
from skspectral._backend import OutputTooLargeError, check_output_size
from skspectral.base import check_loss_growth, train_epochs
from tests._models import small_models


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return (data.data[:240] / 16.0).astype(np.float32), data.target[:240] % 3


@pytest.fixture(scope="module")
def fitted(digits):
    X, _ = digits
    return {name: model.fit(X) for name, model in small_models().items()}


# ------------------------------------------------------------ divergence
def test_training_loop_raises_on_a_growing_loss():
    losses = iter([1.0, 0.5, 0.4, 300.0])
    with pytest.raises(FloatingPointError, match=r"grew from 0.4 to 300.*learning_rate \(now 5\)"):
        train_epochs(lambda idx: next(losses), 4, max_iter=4, batch_size=4,
                     generator=torch.Generator().manual_seed(0), name="M", learning_rate=5)


def test_loss_growth_ignored_for_games():
    losses = iter([1.0, 500.0])
    curve = train_epochs(lambda idx: next(losses), 4, max_iter=2, batch_size=4,
                         generator=torch.Generator().manual_seed(0), name="M",
                         check_growth=False)
    assert curve == [1.0, 500.0]


def test_failed_factorisation_in_a_step_names_learning_rate():
    def step(idx):
        torch.linalg.cholesky(-torch.eye(2))

    with pytest.raises(FloatingPointError, match="factorisation failed.*learning_rate"):
        train_epochs(step, 4, max_iter=1, batch_size=4,
                     generator=torch.Generator().manual_seed(0), name="M", learning_rate=1.0)


def test_loss_growth_check_accepts_a_decreasing_curve():
    check_loss_growth([3.0, 2.0, 2.5], "M")


def test_loss_growth_is_measured_from_the_loss_floor():
    # From an exact fit (loss ~0) Adam's steps raise the loss a hundredfold
    # and still far below the data's variance: not a divergence.
    curve = [5e-6, 7e-4]
    with pytest.raises(FloatingPointError, match="diverged"):
        check_loss_growth(curve, "M")
    check_loss_growth(curve, "M", loss_floor=1e-3)
    with pytest.raises(FloatingPointError, match="diverged"):
        check_loss_growth([5e-6, 0.2], "M", loss_floor=1e-3)


def test_spectral_dictionary_with_a_huge_step_warns(digits):
    X, _ = digits
    model = SpectralDictionary(n_atoms=16, learning_rate=1e3, max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Nyquist.*learning_rate"):
        model.fit(X)
    # The default prior, on whitened codes, keeps the draws of these atoms
    # within the data's spread; a mixture on their raw codes (reg_covar
    # absolute, tiny against them) does not, and the sample check says so.
    model.set_params(prior=CoefficientPrior("gmm", n_components=30))
    with pytest.warns(ConvergenceWarning, match="learning_rate") as record:
        model.fit(X)
    messages = " ".join(str(w.message) for w in record)
    assert "Nyquist" in messages and "spread" in messages


def test_spectral_dictionary_default_step_is_quiet(digits):
    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SpectralDictionary(n_atoms=16, max_iter=3, random_state=0).fit(X)


def test_closed_loop_coder_with_a_huge_step_does_not_fit_silently(digits):
    X, y = digits
    model = ConvSparseCoder(image_shape=(8, 8), objective="ctrl", learning_rate=10, max_iter=3,
                            random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            model.fit(X, y)
        except FloatingPointError as exc:
            assert "learning_rate" in str(exc)
            return
    assert any(issubclass(w.category, ConvergenceWarning) for w in record)


def test_collapsed_samples_warn(digits):
    X, _ = digits
    model = SpectralDictionary(n_atoms=4, max_iter=1, random_state=0).fit(X)
    model.components_ = np.zeros_like(model.components_) + 1e-12
    model._store_prior_mixture()
    with pytest.warns(ConvergenceWarning, match="collapsed"):
        model._check_samples(X)


def test_non_finite_samples_raise(digits):
    X, _ = digits
    model = SpectralDictionary(n_atoms=4, max_iter=1, random_state=0).fit(X)
    model.components_ = np.full_like(model.components_, np.inf)
    model._store_prior_mixture()
    with pytest.raises(FloatingPointError, match="not finite"):
        model._check_samples(X)


# ------------------------------------------------------------ memory
@pytest.fixture
def little_memory(monkeypatch):
    monkeypatch.setattr(batches_module, "available_memory", lambda: 10 * 2**20)


@pytest.mark.parametrize("name", ["spectral", "sparse", "conv", "prior", "pipeline"])
def test_huge_draw_is_refused_before_allocating(fitted, name, little_memory):
    tracemalloc.start()
    try:
        with pytest.raises(OutputTooLargeError, match="iter_sample"):
            fitted[name].sample(10**7)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    with pytest.raises(MemoryError):
        fitted[name].sample(10**7)


@pytest.mark.parametrize("name", ["spectral", "sparse", "conv"])
def test_huge_transform_is_refused_before_allocating(fitted, name, little_memory):
    model = fitted[name]
    # Broadcast views: the inputs take no memory, only an output would.
    X = np.broadcast_to(np.zeros(64, np.float32), (10**6, 64))
    codes = np.broadcast_to(np.zeros(model._n_codes, np.float32), (10**6, model._n_codes))
    with pytest.raises(OutputTooLargeError, match=r"\.transform of 1000000 rows"):
        model.transform(X)
    with pytest.raises(OutputTooLargeError, match=r"\.inverse_transform of 1000000 rows"):
        model.inverse_transform(codes)


def test_output_size_check_message():
    with pytest.raises(OutputTooLargeError, match=r"would return .* GiB"):
        check_output_size(10**15, 10, np.float64, what="f()")


@pytest.mark.parametrize("name", ["spectral", "sparse", "conv", "prior", "pipeline"])
def test_iter_sample_streams_the_same_draw(fitted, name):
    model = fitted[name]
    whole = model.sample(9000, random_state=3)
    parts = list(model.iter_sample(9000, random_state=3))
    assert [len(p) for p in parts] == [4096, 4096, 808]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    small = [b.shape[0] for b in model.iter_sample(5, batch_size=2, random_state=0)]
    assert small == [2, 2, 1]


def test_iter_sample_validates_at_the_call(fitted):
    with pytest.raises(ValueError, match="batch_size"):
        fitted["spectral"].iter_sample(10, batch_size=0)
    with pytest.raises(ValueError, match="n_samples"):
        fitted["prior"].iter_sample(-1)


@pytest.mark.parametrize("name", ["spectral", "sparse", "conv", "prior", "pipeline"])
def test_iter_sample_refuses_a_batch_too_large_at_the_call(fitted, name):
    # Not numpy's raw MemoryError on the first next(): the library's error,
    # naming batch_size, before anything is drawn.
    with pytest.raises(OutputTooLargeError, match=r"iter_sample\(batch_size=1000000000000\)"
                                                  r".*smaller batch_size"):
        fitted[name].iter_sample(10**12, batch_size=10**12)


def test_iter_sample_checks_the_batch_it_will_draw(fitted, little_memory):
    model = fitted["prior"]
    # 10 MiB: a batch of 10**6 rows would not fit, the 5 rows of a short stream do.
    with pytest.raises(OutputTooLargeError, match="batch_size=1000000"):
        model.iter_sample(10**7, batch_size=10**6)
    assert sum(len(b) for b in model.iter_sample(5, batch_size=10**6)) == 5
    assert sum(len(b) for b in model.iter_sample(10**4, batch_size=4096)) == 10**4


def test_large_draw_memory_is_output_plus_one_batch(fitted):
    model = fitted["spectral"]
    n = 60_000
    output = n * 64 * 4
    model.sample(10, random_state=0)  # warm caches
    tracemalloc.start()
    try:
        model.sample(n, random_state=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_batch = 4096 * 64 * 8
    assert peak < output + 8 * one_batch


@pytest.mark.parametrize("name", ["spectral", "sparse", "conv"])
def test_batched_transforms_equal_one_pass(fitted, digits, name, monkeypatch):
    import skspectral.base._model as base

    X, _ = digits
    model = fitted[name]
    codes = model.transform(X)
    recon = model.inverse_transform(codes)
    monkeypatch.setattr(base, "DEFAULT_CHUNK", 7)
    np.testing.assert_allclose(model.transform(X), codes, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.inverse_transform(codes), recon, rtol=1e-5, atol=1e-6)


def test_sparse_transform_of_more_rows_than_one_batch():
    from scipy import sparse

    X = load_digits().data.astype(np.float32) / 16.0
    model = SparseSupportMRF(n_atoms=16, n_nonzero_coefs=2, max_iter=1, burn_in=2,
                             sparse_output=True, random_state=0, device="cpu").fit(X)
    X_big = np.tile(X, (3, 1))[:5000]  # 5,000 rows: two batches of 4,096 at most
    codes = model.transform(X_big)
    assert sparse.issparse(codes) and codes.format == "csr"
    assert codes.shape == (5000, 16) and codes.dtype == np.float32
    assert codes.nnz <= 5000 * 2
    # The second batch's rows are those of a call on them alone.
    np.testing.assert_array_equal(codes[4096:].toarray(),
                                  model.transform(X_big[4096:]).toarray())
    dense = model.set_params(sparse_output=False).transform(X_big)
    np.testing.assert_array_equal(codes.toarray(), dense)


def test_sample_labels_of_the_wrong_length(digits):
    X, y = digits
    prior = CoefficientPrior(random_state=0).fit(X[:, :4], y)
    with pytest.raises(ValueError, match="one class label or 5 labels"):
        prior.sample(5, y=[0, 1])


@pytest.fixture(scope="module")
def labelled(digits):
    """Models fitted with classes 0, 1, 2."""
    X, y = digits
    return {
        "prior": CoefficientPrior("gaussian", random_state=0).fit(X[:, :4], y),
        "spectral": SpectralDictionary(n_atoms=4, max_iter=1, random_state=0,
                                       device="cpu").fit(X, y),
    }


@pytest.mark.parametrize("name", ["prior", "spectral"])
def test_iter_sample_refuses_an_unknown_label_before_any_batch(labelled, name):
    model = labelled[name]
    # Refused at the call: no batch is drawn before the label 9 is seen.
    with pytest.raises(ValueError, match=r"y=9 is not a class seen in fit; known classes: "
                                         r"\[0, 1, 2\]"):
        model.iter_sample(7, batch_size=3, y=[0, 1, 2, 0, 1, 2, 9])
    with pytest.raises(ValueError, match="one class label or 7 labels"):
        model.iter_sample(7, batch_size=3, y=[0, 1, 2])
    with pytest.raises(ValueError, match="y='a' is not a class seen in fit"):
        model.iter_sample(7, y="a")
    batches = list(model.iter_sample(7, batch_size=3, y=[0, 1, 2, 0, 1, 2, 2]))
    assert [len(b) for b in batches] == [3, 3, 1]


@pytest.mark.parametrize("name", ["prior", "spectral"])
def test_lazy_sample_refuses_an_unknown_label_before_building_a_graph(labelled, name):
    pytest.importorskip("dask.array")
    model = labelled[name]
    with pytest.raises(ValueError, match=r"y=5 is not a class seen in fit"):
        model.sample(9, y=5, chunks=4)
    with pytest.raises(ValueError, match=r"y=5 is not a class seen in fit"):
        model.sample(3, y=[0, 5, 1], chunks=2)
    draws = model.sample(9, y=[0, 1, 2] * 3, chunks=4, random_state=0)
    assert draws.compute().shape == (9, model.n_features_in_)


@pytest.mark.parametrize("chunks", [(np.nan,), (np.inf,), (2.5, 7.5), (0, 10), (-1, 11),
                                    ("4", "6"), np.nan, 2.5, 0, True, ()])
def test_lazy_sample_refuses_bad_chunk_sizes(fitted, chunks):
    pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="The 'chunks' parameter must be an int >= 1"):
        fitted["prior"].sample(10, chunks=chunks)


def test_lazy_sample_accepts_whole_chunk_sizes(fitted):
    pytest.importorskip("dask.array")
    draws = fitted["prior"].sample(10, chunks=(4, np.int64(5), 1.0), random_state=0)
    assert draws.chunks[0] == (4, 5, 1)


# ------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    "estimator, param",
    [
        (SpectralDictionary(), "n_atoms"),
        (SparseSupportMRF(), "n_atoms"),
        (SparseSupportMRF(), "n_nonzero_coefs"),
        (ConvSparseCoder(), "max_iter"),
        (CoefficientPrior("gmm"), "n_components"),
        (SpectrumRefiner(method="stig"), "max_iter"),
        (SpectralDictionary(), "learning_rate"),
    ],
)
def test_bool_for_a_number_is_refused(digits, estimator, param):
    X, _ = digits
    with pytest.raises(ValueError, match=f"'{param}' parameter .* not a bool"):
        estimator.set_params(**{param: True}).fit(X)


@pytest.mark.parametrize("estimator", [SpectralDictionary(), SparseSupportMRF()])
def test_n_jobs_zero_is_refused(digits, estimator):
    with pytest.raises(ValueError, match="'n_jobs' parameter"):
        estimator.set_params(n_jobs=0).fit(digits[0])


def test_functions_refuse_bools_and_n_jobs_zero():
    D = np.eye(4)
    with pytest.raises(ValueError, match="'n_nonzero_coefs' parameter .* not a bool"):
        orthogonal_mp_batch(np.ones((2, 4)), D, True)
    with pytest.raises(ValueError, match="'n_jobs' parameter"):
        orthogonal_mp_batch(np.ones((2, 4)), D, 1, n_jobs=0)


# ------------------------------------------------------------ read-only input
_READ_ONLY_FITS = """
import sys, warnings
import numpy as np
from sklearn.datasets import load_digits
from skspectral import ConvSparseCoder, SparseSupportMRF, SpectralDictionary, SpectrumRefiner

digits = load_digits().data[:120] / 16.0
np.save(sys.argv[1], digits.astype(np.float32))
read_only = digits.copy()
read_only.setflags(write=False)
memmap = np.load(sys.argv[1], mmap_mode="r")
warnings.simplefilter("error")  # torch warns once per process: this one is fresh
for X in (read_only, memmap):
    assert not X.flags.writeable
    SpectralDictionary(n_atoms=4, max_iter=1).fit(X)
    SparseSupportMRF(n_atoms=8, n_nonzero_coefs=2, max_iter=1, burn_in=1, random_state=0,
                     device="cpu").fit(X)
    coder = ConvSparseCoder(n_filters=(3,), strides=(1,), image_shape=(8, 8), max_iter=1,
                            random_state=0, device="cpu").fit(X)
    coder.inverse_transform(coder.transform(X))
    refiner = SpectrumRefiner(image_shape=(8, 8), device="cpu").fit(X)
    refiner.inverse_transform(X)
print("ok")
"""


def test_read_only_input_leaks_no_torch_warning(tmp_path):
    # torch's "The given NumPy array is not writable" warning: in a subprocess,
    # since torch gives it once per process.
    result = subprocess.run([sys.executable, "-c", _READ_ONLY_FITS, str(tmp_path / "x.npy")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
