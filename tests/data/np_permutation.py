#!/usr/bin/python3
"""np_permutation.py OUT SEED:N[:K] ... — the independent reference for tests/test_subset.c.

For each SEED:N writes one line "SEED N K p0 p1 ... p(K-1)": the first K entries (all when K is
left out) of numpy's legacy numpy.random.RandomState(SEED).permutation(N) — what pandas'
DataFrame.sample(frac, random_state=SEED) takes its rows from. Then one line
"STATE s0 s1 ... s623" per seed: the MT19937 key right after RandomState(SEED) seeded it, and
one line "RAW SEED v0 ... v9": its first ten 32-bit outputs (randint over the full uint32 range
returns the generator's raw outputs).
"""
import sys

import numpy as np

with open(sys.argv[1], "w") as f:
    for spec in sys.argv[2:]:
        parts = [int(x) for x in spec.split(":")]
        seed, n = parts[0], parts[1]
        k = parts[2] if len(parts) > 2 else n
        p = np.random.RandomState(seed).permutation(n)[:k]
        f.write("%d %d %d %s\n" % (seed, n, k, " ".join(str(int(v)) for v in p)))
    seeds = sorted(set(int(s.split(":")[0]) for s in sys.argv[2:]))
    for seed in seeds:
        key = np.random.RandomState(seed).get_state()[1]
        f.write("STATE %d %s\n" % (seed, " ".join(str(int(v)) for v in key)))
        raw = np.random.RandomState(seed).randint(0, 2**32, size=10, dtype=np.uint64)
        f.write("RAW %d %s\n" % (seed, " ".join(str(int(v)) for v in raw)))
