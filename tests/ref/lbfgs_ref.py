#!/usr/bin/python3
"""lbfgs_ref.py — scipy's L-BFGS-B (fmin_l_bfgs_b, no bounds) on the problems of tests/test_lbfgs.c.

Prints one line per case:   name nit nfev f
or, when scipy is not installed, the single line   NOSCIPY <reason>   (the test then skips
that part). The problems are defined here from their formulas, independently of the C test:
  rosen2    Rosenbrock n=2 from (-1.2, 1)
  rosen100  Rosenbrock n=100 (sum over i<n-1 of 100(x[i+1]-x[i]^2)^2 + (1-x[i])^2) from
            (-1.2, 1, -1.2, 1, ...)
  quad50    f = 1/2 x'Ax - b'x, A tridiagonal: 2.05 on the diagonal, -1 beside it (condition
            number about 80), b[i] = cos(i), from x = 0 (exact minimum: A x = b)
Options (the C test uses the same): m 10, factr 1e7, pgtol 1e-5, maxls 20, maxiter 15000,
maxfun 15000; 'rosen2tight' and 'quad50tight' repeat rosen2 and quad50 with factr 10,
pgtol 1e-10. The last line is the exact minimum of quad50 (numpy.linalg.solve).
"""
import sys

import numpy as np

try:
    from scipy.optimize import fmin_l_bfgs_b
except ImportError as e:  # the test skips the comparison with this reason
    print("NOSCIPY scipy is not installed (Debian package python3-scipy):", e)
    sys.exit(0)


def rosen(x):
    f = np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    g = np.zeros_like(x)
    g[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return f, g


n = 50
A = 2.05 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
b = np.cos(np.arange(n, dtype=np.float64))


def quad(x):
    Ax = A @ x
    return 0.5 * x @ Ax - b @ x, Ax - b


def start(n):
    x = np.empty(n)
    x[0::2] = -1.2
    x[1::2] = 1.0
    return x


cases = [("rosen2", rosen, start(2), 1e7, 1e-5), ("rosen2tight", rosen, start(2), 10.0, 1e-10),
         ("rosen100", rosen, start(100), 1e7, 1e-5),
         ("quad50", quad, np.zeros(n), 1e7, 1e-5), ("quad50tight", quad, np.zeros(n), 10.0, 1e-10)]
for name, fun, x0, factr, pgtol in cases:
    x, f, info = fmin_l_bfgs_b(fun, x0, m=10, factr=factr, pgtol=pgtol, maxls=20, maxiter=15000,
                               maxfun=15000)
    print(name, info["nit"], info["funcalls"], repr(float(f)))
xs = np.linalg.solve(A, b)
print("quad50min", repr(float(0.5 * xs @ A @ xs - b @ xs)))
