#!/usr/bin/python3
"""References for tests/test_rocstats.c (src/study/rocstats.c), written from the formulas, not
from the C code. Generated cases (scores rounded to few decimals, so there are ties) printed as
lines the test parses:
  case ID K N                  K score sets of N cases follow
  y v...                       labels 0/1
  s R v...                     score set R (float32 values, printed exactly)
  auc R v                      DeLong's AUC (= Mann-Whitney, ties 1/2): mean of the V10 components
  cov R Q v                    DeLong's covariance S10/m + S01/n, V10/V01 from the pair kernel
                               psi(x, y) = 1 [x > y] + 1/2 [x == y] directly (O(mn), no midranks)
  z v / p v                    DeLong test of set 0 against set 1 (K = 2): z and erfc(|z|/sqrt 2)
  ap v                         average precision, sklearn's step definition (own code here)
  youden thr sens spec         max of J = sens + spec - 1 over thresholds (score >= thr), the
                               highest threshold among ties; thr inf when J <= 0
  sas TARGET thr sens spec     the lowest threshold with specificity >= TARGET
  boot REPS SEED STRAT LEVEL lo hi used     percentile bootstrap with medcolor's documented
                               resampling (xoshiro256** seeded by splitmix64, index =
                               floor(uniform * count)), re-implemented here; numpy.percentile
  q P v                        the normal quantile (scipy.stats.norm.ppf)
"""
import math
import numpy as np
from scipy.stats import norm

M64 = (1 << 64) - 1


class Rng:
    """medcolor's mc_rng: xoshiro256** seeded with four splitmix64 outputs (src/core/util.c)."""

    def __init__(self, seed):
        x = seed & M64
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def u64(self):
        s = self.s
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.u64() >> 11) * 2.0 ** -53


def psi(x, y):
    return np.where(x > y, 1.0, np.where(x == y, 0.5, 0.0))


def delong(S, y):
    pos, neg = y == 1, y == 0
    m, n = pos.sum(), neg.sum()
    V10, V01, A = [], [], []
    for s in S:
        P = psi(s[pos][:, None], s[neg][None, :])  # m x n
        V10.append(P.mean(axis=1))
        V01.append(P.mean(axis=0))
        A.append(P.mean())
    V10, V01 = np.array(V10), np.array(V01)
    S10 = np.cov(V10) if len(S) > 1 else np.array([[np.var(V10[0], ddof=1)]])
    S01 = np.cov(V01) if len(S) > 1 else np.array([[np.var(V01[0], ddof=1)]])
    return np.array(A), S10 / m + S01 / n


def auc_mw(s, y):
    pos, neg = s[y == 1], s[y == 0]
    return psi(pos[:, None], neg[None, :]).mean()


def ap_sklearn(s, y):
    thr = np.unique(s)[::-1]
    P = y.sum()
    ap, prev = 0.0, 0.0
    for t in thr:
        pred = s >= t
        tp = (pred & (y == 1)).sum()
        fp = (pred & (y == 0)).sum()
        rec = tp / P
        ap += (rec - prev) * tp / (tp + fp)
        prev = rec
    return ap


def points(s, y, target):
    P, N = (y == 1).sum(), (y == 0).sum()
    best = (0.0, math.inf, 0.0, 1.0)
    sas = (math.inf, 0.0, 1.0)
    for t in np.unique(s)[::-1]:
        pred = s >= t
        sens = (pred & (y == 1)).sum() / P
        spec = 1 - (pred & (y == 0)).sum() / N
        if sens + spec - 1 > best[0]:
            best = (sens + spec - 1, float(t), sens, spec)
        if spec >= target - 1e-12:
            sas = (float(t), sens, spec)
    return best, sas


def boot(s, y, reps, seed, strat, level):
    r = Rng(seed)
    posl, negl = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    aucs = []
    for _ in range(reps):
        if strat:
            idx = [posl[int(r.uniform() * len(posl))] for _ in range(len(posl))]
            idx += [negl[int(r.uniform() * len(negl))] for _ in range(len(negl))]
        else:
            idx = [int(r.uniform() * len(y)) for _ in range(len(y))]
        bs, by = s[idx], y[idx]
        if by.min() == by.max():
            continue
        aucs.append(auc_mw(bs, by))
    a = np.array(aucs)
    return np.percentile(a, 100 * (1 - level) / 2), np.percentile(a, 100 * (1 + level) / 2), len(a)


def main():
    g = np.random.default_rng(20261204)
    cid = 0
    for n, k, dec, prev in [(30, 2, 1, 0.4), (200, 2, 2, 0.2), (57, 3, 1, 0.5), (400, 2, 3, 0.1), (12, 2, 0, 0.5),
                            (25, 1, 2, 0.08)]:
        y = (g.random(n) < prev).astype(np.int64)
        y[0], y[1], y[2], y[3] = 1, 0, 1, 0
        base = g.normal(size=n) + 1.0 * y
        S = []
        for r in range(k):
            s = 1 / (1 + np.exp(-(base + g.normal(size=n) * (0.5 + r))))
            s = np.round(s, dec).astype(np.float32).astype(np.float64)
            S.append(s)
        if n == 12:  # identical score sets: no variance of the difference
            S[1] = S[0].copy()
        cid += 1
        print(f"case {cid} {k} {n}")
        print("y " + " ".join(str(v) for v in y))
        for r, s in enumerate(S):
            print(f"s {r} " + " ".join(repr(float(v)) for v in s))
        A, C = delong(S, y)
        for r in range(k):
            print(f"auc {r} {A[r]!r}")
            for q in range(k):
                print(f"cov {r} {q} {C[r, q]!r}")
        if k >= 2:
            v = C[0, 0] + C[1, 1] - 2 * C[0, 1]
            d = A[0] - A[1]
            if v <= 1e-300:
                z = 0.0 if d == 0 else math.copysign(math.inf, d)
            else:
                z = d / math.sqrt(v)
            print(f"z {z!r}")
            print(f"p {math.erfc(abs(z) / math.sqrt(2))!r}")
        print(f"ap {ap_sklearn(S[0], y)!r}")
        for target in (0.9, 0.5, 1.0):
            (j, t, se, sp), (t2, se2, sp2) = points(S[0], y, target)
            if target == 0.9:
                print(f"youden {t!r} {se!r} {sp!r}")
            print(f"sas {target!r} {t2!r} {se2!r} {sp2!r}")
        for reps, seed, strat, level in [(200, 7, 1, 0.95), (150, 12345678901234, 0, 0.9)]:
            lo, hi, used = boot(S[0], y, reps, seed, strat, level)
            print(f"boot {reps} {seed} {strat} {level!r} {lo!r} {hi!r} {used}")
    for p in (0.975, 0.95, 0.5, 0.995, 1e-10, 0.01, 0.3):
        print(f"q {p!r} {norm.ppf(p)!r}")


main()
