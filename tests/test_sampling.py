"""Fanout-size sampling: the table p(N), its parser, and the kept-recipient draws (seeded statistics)."""
import math
import random

import pytest

from thespian_trace.sampling import DEFAULT_TABLE, FanoutTable, choose_kept, parse_table


@pytest.mark.parametrize("n,p", [(1, 1.0), (100, 0.1), (10000, 0.001)])
def test_default_table_points(n, p):
    assert DEFAULT_TABLE.probability(n) == pytest.approx(p, rel=1e-12)


@pytest.mark.parametrize("n,p", [
    (10, 0.1 ** 0.5),          # halfway between 1 and 100 in log(N): halfway in log(p)
    (1000, 0.01),              # halfway between 100 and 10,000
    (2, 2 ** -0.5),            # log-log line through (1,1), (100,0.1): p = N^-0.5
    (50, 50 ** -0.5),
    (316, 0.1 * (316 / 100) ** -1.0),    # slope -1 between 100 and 10,000
])
def test_log_log_interpolation(n, p):
    assert DEFAULT_TABLE.probability(n) == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize("n,p", [(0, 1.0), (-3, 1.0), (10001, 0.001), (10 ** 6, 0.001), (10 ** 12, 0.001)])
def test_clamped_outside_the_table(n, p):
    assert DEFAULT_TABLE.probability(n) == p


def test_probability_is_monotonic_and_continuous_on_the_default_table():
    ps = [DEFAULT_TABLE.probability(n) for n in range(1, 20001)]
    assert all(a >= b for a, b in zip(ps, ps[1:]))
    assert max(abs(a - b) for a, b in zip(ps, ps[1:])) < 0.3  # no jumps (p(1)->p(2) is the largest)


def test_custom_table_is_sorted_and_interpolated():
    table = FanoutTable([(1000, 0.2), (10, 0.8)])
    assert table.points == ((10, 0.8), (1000, 0.2))
    assert table.probability(5) == 0.8 and table.probability(5000) == 0.2
    assert table.probability(100) == pytest.approx(math.sqrt(0.8 * 0.2))


def test_single_point_table_is_constant():
    table = FanoutTable([(50, 0.5)])
    assert [table.probability(n) for n in (1, 50, 10 ** 6)] == [0.5, 0.5, 0.5]


def test_parse_table():
    assert parse_table("1:1,100:0.1,10000:0.001") == DEFAULT_TABLE
    assert parse_table(" 10000:0.001 , 1:1.0,100:.1, ") == DEFAULT_TABLE
    assert parse_table("5:0.25").points == ((5, 0.25),)


@pytest.mark.parametrize("text", [
    "", ",", "1", "1=0.5", "a:0.5", "1:x", "1.5:0.5", "0:0.5", "-1:0.5", "1:0", "1:1.5", "1:-0.1",
    "10:0.5,10:0.2", "1:nan",
])
def test_parse_table_errors(text):
    with pytest.raises(ValueError):
        parse_table(text)


@pytest.mark.parametrize("points", [[], [(0, 0.5)], [(1, 0.0)], [(1, 2.0)], [(3, 0.5), (3, 0.4)]])
def test_table_validation(points):
    with pytest.raises(ValueError):
        FanoutTable(points)


# ------------------------------------------------------------------------------------------------
# Kept draws. The kept count of an N-recipient fanout is Binomial(N, p(N)); over S independent seeds
# the total is Binomial(S*N, p) with sd = sqrt(S*N*p*(1-p)). We assert the total within 4 sd of S*N*p
# (two-sided chance of a false failure ~6e-5 for a fresh seed set; the seeds are fixed, so the test is
# deterministic) and each single draw within 6 sd + 1 of N*p.

SEEDS = range(200)


@pytest.mark.parametrize("n", [1, 10, 100, 1000, 10000])
def test_kept_count_matches_p_times_n(n):
    p = DEFAULT_TABLE.probability(n)
    mean = n * p
    sd1 = math.sqrt(n * p * (1 - p))
    total = 0
    counts = []
    for seed in SEEDS:
        kept = list(choose_kept(n, p, random.Random(seed)))
        assert kept == sorted(set(kept)) and all(0 <= i < n for i in kept)
        assert abs(len(kept) - mean) <= 6 * sd1 + 1
        counts.append(len(kept))
        total += len(kept)
    s = len(SEEDS)
    sd_total = math.sqrt(s * n * p * (1 - p))
    assert abs(total - s * mean) <= 4 * sd_total + 1e-9, (total, s * mean, sd_total)
    if p < 1.0:
        # The spread is binomial too (not, say, always exactly round(N*p)): sample variance within
        # a factor of two of N*p*(1-p).
        m = total / s
        var = sum((c - m) ** 2 for c in counts) / (s - 1)
        assert 0.5 * sd1 ** 2 <= var <= 2 * sd1 ** 2, (var, sd1 ** 2)


def test_p_one_keeps_everyone():
    assert list(choose_kept(37, 1.0, random.Random(0))) == list(range(37))


def test_kept_positions_are_uniform():
    """Pooled over seeds, kept indices of a 10,000 fanout spread evenly over ten deciles."""
    n, p = 10000, 0.01
    deciles = [0] * 10
    for seed in range(100):
        for i in choose_kept(n, p, random.Random(seed)):
            deciles[i * 10 // n] += 1
    total = sum(deciles)
    expected = total / 10
    chi2 = sum((d - expected) ** 2 / expected for d in deciles)
    assert chi2 < 27.9, deciles  # chi-square, 9 degrees of freedom, p = 0.001


def test_same_seed_same_choice_and_different_seeds_differ():
    a = list(choose_kept(10000, 0.01, random.Random(42)))
    assert a == list(choose_kept(10000, 0.01, random.Random(42)))
    assert a != list(choose_kept(10000, 0.01, random.Random(43)))


@pytest.mark.parametrize("n,k", [(1, 1), (10, 3), (100, 10), (10000, 10), (10000, 0), (5, 9), (0, 3)])
def test_exact_k_keeps_exactly_k(n, k):
    for seed in range(20):
        kept = list(choose_kept(n, 0.5, random.Random(seed), exact=k))
        assert len(kept) == min(k, n)
        assert kept == sorted(set(kept)) and all(0 <= i < n for i in kept)


def test_exact_k_is_uniform_over_recipients():
    hits = [0] * 20
    for seed in range(2000):
        for i in choose_kept(20, 0.0, random.Random(seed), exact=5):
            hits[i] += 1
    # each recipient kept with probability 1/4: 500 expected, sd ~ 19.4
    assert all(abs(h - 500) <= 5 * 19.4 for h in hits), hits
