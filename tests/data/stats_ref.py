#!/usr/bin/env python3
"""stats_ref.py — an independent reference for tests/test_study.c (no scipy here).

Prints test cases, one a line:
  T n a_1..a_n b_1..b_n t p      paired two-sided t-test: the statistic and the p-value, the
                                 p-value from a numerical integration of the Student t density
                                 (composite Simpson on the tail, substitution x = |t| / u)
  B m p_1..p_m adj_1..adj_m      Benjamini-Hochberg adjusted p-values straight from the
                                 definition: adj_i = min(1, min over j with p_j >= p_i of
                                 m p_j / rank_j), rank_j = the number of p-values <= p_j
All numbers printed with repr() precision. Standard library only.
"""
import math
import random


def t_density(x, df):
    c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(c - (df + 1) / 2 * math.log1p(x * x / df))


def t_two_sided(t, df, n=20000):
    """2 * integral_{|t|}^inf f(x) dx = 2 * integral_0^1 f(|t|/u) |t| / u^2 du (Simpson)."""
    a = abs(t)
    if a == 0:
        return 1.0

    def g(u):
        if u == 0:
            return 0.0
        x = a / u
        return t_density(x, df) * a / (u * u)

    # g(u) ~ u^(df-1) near 0: 0 for df > 1, but 1 / (pi a) for df = 1 (Cauchy)
    h = 1.0 / n
    g0 = 1.0 / (math.pi * a) if df == 1 else 0.0
    s = g0 + g(1.0)
    for k in range(1, n):
        s += (4 if k % 2 else 2) * g(k * h)
    return 2 * s * h / 3


def paired(a, b):
    n = len(a)
    d = [x - y for x, y in zip(a, b)]
    m = sum(d) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
    t = m / (sd / math.sqrt(n))
    return t, t_two_sided(t, n - 1)


def bh(p):
    m = len(p)
    out = []
    for pi in p:
        best = 1.0
        for pj in p:
            if pj >= pi:
                rank = sum(1 for q in p if q <= pj)
                best = min(best, m * pj / rank)
        out.append(best)
    return out


def main():
    rng = random.Random(20240611)
    # AUC-like values of two strategies over 3 seeds (the paper's setting), and larger n
    for n in (2, 3, 3, 3, 3, 4, 5, 8, 12, 30):
        for _ in range(3):
            base = [0.85 + rng.gauss(0, 0.01) for _ in range(n)]
            shift = rng.choice([0.0, 0.003, 0.01, 0.05])
            a = [x + shift + rng.gauss(0, 0.006) for x in base]
            b = [x + rng.gauss(0, 0.006) for x in base]
            t, p = paired(a, b)
            print("T", n, " ".join(repr(x) for x in a + b), repr(t), repr(p))
    for m in (1, 2, 5, 10, 17):
        for _ in range(3):
            p = [rng.random() ** 3 for _ in range(m)]
            if m >= 5:
                p[1] = p[3]  # ties
            print("B", m, " ".join(repr(x) for x in p + bh(p)))


if __name__ == "__main__":
    main()
