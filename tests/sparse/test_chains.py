"""Where the Gibbs chains over supports start, and what that does to the draws."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skspectral import CoefficientPrior, SparseSupportMRF
from skspectral.metrics import label_quality
from skspectral.prior import _support


def _two_groups(n=400, seed=0):
    """Codes of two kinds: half use 5 of atoms 0-9, half 5 of atoms 10-29."""
    rng = np.random.RandomState(seed)
    codes = np.zeros((n, 30))
    for i in range(n):
        pool = np.arange(10) if i % 2 == 0 else np.arange(10, 30)
        codes[i, rng.choice(pool, 5, replace=False)] = rng.uniform(0.5, 1.5, 5)
    return codes


def _share_of_first_group(codes):
    used = codes != 0
    return float(np.mean(used[:, :10].sum(axis=1) > used[:, 10:].sum(axis=1)))


def test_burn_in_auto_depends_on_where_chains_start():
    assert _support.burn_in_sweeps("auto", "data") == 2
    assert _support.burn_in_sweeps("auto", "sequential") == 30
    assert _support.burn_in_sweeps(7, "data") == 7


def test_data_starts_keep_the_mix_of_the_training_supports():
    codes = _two_groups()
    prior = CoefficientPrior("sparse_support", random_state=0).fit(codes)
    draws = prior.sample(1000, random_state=0)
    assert abs(_share_of_first_group(draws) - 0.5) < 0.08
    # Draws are new supports, not the training ones.
    train = {tuple(np.flatnonzero(row)) for row in codes}
    copies = np.mean([tuple(np.flatnonzero(row)) in train for row in draws])
    assert copies < 0.5


def test_chains_started_from_the_asked_class():
    codes = _two_groups()
    labels = np.arange(codes.shape[0]) % 2
    prior = CoefficientPrior("sparse_support", random_state=0).fit(codes, labels)
    draws = prior.sample(200, y=0, random_state=0)
    assert _share_of_first_group(draws) > 0.9


def test_sequential_chains_are_the_former_sampler():
    codes = _two_groups()
    prior = CoefficientPrior("sparse_support", chain_start="sequential", burn_in=30,
                             random_state=0).fit(codes)
    sampler = prior._densities[0].sampler
    supports = prior.sample(50, random_state=3, return_supports=True)[1]
    expected = _support.draw_supports(sampler["log_unary"], sampler["log_pair"], 30, 5, 50, 30,
                                      5, np.random.RandomState(3))
    np.testing.assert_array_equal(np.sort(supports, axis=1), np.sort(expected, axis=1))


def test_chain_start_is_validated():
    with pytest.raises(ValueError, match="chain_start"):
        SparseSupportMRF(chain_start="training").fit(np.random.rand(20, 16))
    with pytest.raises(ValueError, match="burn_in"):
        CoefficientPrior("sparse_support", burn_in="long").fit(_two_groups(20))


@pytest.mark.slow
def test_mnist_draws_cover_the_digits(shared_data):
    from skspectral.datasets import fetch_mnist

    train = fetch_mnist(data_home=shared_data, subset="train", download_if_missing=False)
    X, X_judge, y_judge = train.data[:10_000], train.data[30_000:40_000], train.target[30_000:40_000]
    judge = LogisticRegression(max_iter=300).fit(X_judge, y_judge)
    entropy = {}
    for start in ("data", "sequential"):
        model = SparseSupportMRF(chain_start=start, random_state=0).fit(X)
        entropy[start] = label_quality(model.sample(1000, random_state=0), judge).label_entropy
    # Long chains collapse onto a few digits (about 1.7 nats); data starts keep
    # the spread of the data (log 10 = 2.30 for even classes).
    assert entropy["data"] > 2.1
    assert entropy["data"] > entropy["sequential"] + 0.3
