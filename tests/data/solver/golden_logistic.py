#!/usr/bin/python3
"""Golden numbers of tests/test_solver.c's test_golden: penalised logistic regression solved by
scipy.optimize.minimize (trust-exact: Newton steps in a trust region, exact Hessian) to machine
precision, on the rows that the test builds by the same formulas (rows(40, 5) and rows(8, 12)) (float32 rows, float64 labels).

    objective: mean_i logloss(y_i, sigmoid(w.x_i + b)) + lam |w|^2   (b not penalised)

Run: /usr/bin/python3 tests/data/solver/golden_logistic.py  (Debian python3-scipy 1.10.1)
"""
import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log1p



def rows(N, D):
    i = np.arange(N)[:, None].astype(np.float64)
    j = np.arange(D)[None, :].astype(np.float64)
    x = (np.sin(0.7 * i + 1.3 * j) + 0.3 * np.cos(2.1 * i * j + 0.5)).astype(np.float32)
    t = np.sin(1.1 * np.arange(N)) + 0.8 * x[:, 0].astype(np.float64) - 0.5 * x[:, 3]
    y = (t > 0.1).astype(np.float64)
    ys = 0.15 + 0.7 * (0.5 + 0.5 * np.sin(0.37 * np.arange(N)))  # soft labels in (0.15, 0.85)
    return x.astype(np.float64), y, ys


def fit(x, y, lam):
    def f(th):
        z = x @ th[1:] + th[0]
        return np.mean(np.logaddexp(0, z) - y * z) + lam * th[1:] @ th[1:]

    def g(th):
        r = expit(x @ th[1:] + th[0]) - y
        return np.concatenate([[r.mean()], x.T @ r / len(y) + 2 * lam * th[1:]])

    def h(th):
        p = expit(x @ th[1:] + th[0])
        xt = np.hstack([np.ones((len(y), 1)), x])
        H = (xt.T * (p * (1 - p))) @ xt / len(y)
        H[1:, 1:] += 2 * lam * np.eye(x.shape[1])
        return H

    r = minimize(f, np.zeros(x.shape[1] + 1), jac=g, hess=h, method="trust-exact",
                 options={"gtol": 1e-15, "maxiter": 1000})
    th = r.x
    for _ in range(3):  # polish: Newton steps at machine precision
        th = th - np.linalg.solve(h(th), g(th))
    return th, np.linalg.norm(g(th))


x, y, ys = rows(40, 5)
xw, yw, _ = rows(8, 12)  # fewer rows than dimensions: the solver's basis of the rows' span
for name, xx, yy, lam in (("40 x 5, hard", x, y, 0.01), ("40 x 5, hard", x, y, 1e-4),
                          ("40 x 5, soft", x, ys, 0.001), ("8 x 12, hard", xw, yw, 0.01)):
    th, gn = fit(xx, yy, lam)
    print(f"/* {name} labels, lambda = {lam:g}: |gradient| = {gn:.1e} */")
    print("b = %.17g;" % th[0])
    print("w = {" + ", ".join("%.17g" % v for v in th[1:]) + "};")
