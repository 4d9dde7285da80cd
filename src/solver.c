/*
 * solver.c — penalised logistic and ridge regression on float rows, and their cross-validation
 * (solver.h has the objectives and the contract).
 *
 * Coordinates. Every fit works on a "design": its rows u_j shifted by a mean mu (the shift
 * moves only b, and it takes the large common direction of CLIP embeddings out of the
 * bias-weight coupling), with the bias as feature 0 of theta = (b', w). With at least as many
 * rows as dimensions the design reads the float rows themselves (u = x - mu, the shift applied
 * algebraically: u·v = x·v - mu·v). With fewer, the optimum w lies in the span of the rows
 * (its gradient condition makes it a combination of them), so the design is an orthonormal
 * basis of that span: a pivoted Cholesky factorisation of the rows' Gram matrix, K = L L^T,
 * gives each row its coordinates L_j (row j of L, in pivot order, has only min(j + 1, r) of
 * them) with u_i·u_j = L_i·L_j. That is the kernel ("dual") form with its cost, r = min(m, dim)
 * features per row, but without a second solver: rows whose residual after the earlier pivots
 * is below BASIS_TOL (duplicates) are combinations of them and need no coordinate of their own.
 *
 * Ridge is exact: with C the centred scatter matrix of the rows and c = sum (u - ubar)(y - ybar),
 * the normal equations are (C + lambda m I) w = c, b' = ybar - ubar·w. C is reduced to
 * tridiagonal T = Q^T C Q once (Householder, 2/3 p^3), after which each lambda costs an O(p)
 * tridiagonal solve and two reflections of a vector, O(p^2): the whole grid for 2/3 p^3, where
 * a Cholesky factorisation per penalty would cost 17 p^3 / 6.
 *
 * Logistic is Newton's method, globalised by backtracking on the objective. Building the
 * Hessian X^T D X costs rows x p^2 / 2, from 40 to 200 times a pass over the rows, so the
 * Newton systems are solved by preconditioned conjugate gradients with exact Hessian-vector
 * products (one pass each), the preconditioner being the Cholesky factor of a Hessian built at
 * an earlier iterate (and lambda), from at most 4 q of the rows. While the curvature changes
 * little CG needs a few iterations; when it needs more than about sqrt(build / pass) of them
 * the Hessian is rebuilt at the current iterate. The CG tolerance follows the gradient
 * (inexact Newton, eta = min(0.1, sqrt(|g| / |g0|))), so the last steps are as exact as
 * Newton's. Along the lambda path each fit starts from a secant prediction of the last two
 * solutions in log lambda (or the last one, if better): 3 to 5 Newton steps per lambda, each a
 * pass for the line search and 1 to 10 CG iterations. (Eisenstat-Walker forcing terms cut the
 * Newton steps by a fifth but cost as many CG iterations more; rebuilding on every lambda, or
 * on every second, cost more than it saved.)
 *
 * Scratch is allocated per call and reused by its folds' fits; nothing is static.
 */
#include "solver.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "stats.h"

#define BASIS_TOL 1e-11   /* a row whose residual^2 is below this x the largest |x|^2 is dependent */
#define GRAM_MAX 6000     /* cross-validation keeps the Gram matrix of at most this many rows */
#define HESS_ROWS 4       /* the preconditioner's Hessian uses at most HESS_ROWS x q rows */
#define PCG_MAX 250       /* CG iterations per Newton system at most */
#define CURV_FLOOR 1e-10  /* preconditioner only: p (1 - p) floored, so that it stays definite */
#define ETA_MAX 0.1       /* the loosest CG tolerance, relative to |g| */
#define LS_MAX 40         /* step halvings per line search at most */

double solve_lambda(int32_t j)
{
    if (j < 0 || j >= SOLVE_NLAMBDA) return NAN;
    return pow(10.0, 2.0 - 0.5 * j);
}

/* ---- kernels: the hot loops (dot products, updates) ------------------------------------- */

static double dot_d(const double *a, const double *b, int32_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        s0 += a[k] * b[k];
        s1 += a[k + 1] * b[k + 1];
        s2 += a[k + 2] * b[k + 2];
        s3 += a[k + 3] * b[k + 3];
    }
    for (; k < n; k++) s0 += a[k] * b[k];
    return (s0 + s1) + (s2 + s3);
}

static double dot_fd(const float *a, const double *b, int32_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        s0 += (double)a[k] * b[k];
        s1 += (double)a[k + 1] * b[k + 1];
        s2 += (double)a[k + 2] * b[k + 2];
        s3 += (double)a[k + 3] * b[k + 3];
    }
    for (; k < n; k++) s0 += (double)a[k] * b[k];
    return (s0 + s1) + (s2 + s3);
}

/* four dot products of a with b0..b3 at once (a read once): the Gram matrix's loop */
static void dot4(const double *a, const double *b0, const double *b1, const double *b2,
                 const double *b3, int32_t n, double *out)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int32_t k = 0; k < n; k++) {
        double ak = a[k];
        s0 += ak * b0[k];
        s1 += ak * b1[k];
        s2 += ak * b2[k];
        s3 += ak * b3[k];
    }
    out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
}

static void axpy_d(double a, const double *x, double *restrict y, int32_t n)
{
    for (int32_t k = 0; k < n; k++) y[k] += a * x[k];
}

static void axpy_fd(double a, const float *x, double *restrict y, int32_t n)
{
    for (int32_t k = 0; k < n; k++) y[k] += a * (double)x[k];
}

static double norm2(const double *a, int32_t n) { return sqrt(dot_d(a, a, n)); }

/* A block reused from one fit to the next (the folds' fits have the same sizes): fresh blocks
 * of that size are fresh pages, and faulting them in cost 15% of a small cross-validation. */
typedef struct scratch {
    void *p;
    size_t size;
} scratch;

/* at least size bytes (contents not kept), or NULL */
static void *scratch_get(scratch *s, size_t size)
{
    if (s->size >= size) return s->p;
    free(s->p);
    s->p = malloc(size);
    s->size = s->p ? size : 0;
    return s->p;
}

/* the scratch of the fits of one call: fitd (design), ridge, logistic, ridge sums */
typedef struct work {
    scratch fd, ridge, logit, sums;
} work;

static void work_free(work *wk) { free(wk->fd.p), free(wk->ridge.p), free(wk->logit.p), free(wk->sums.p); }

/* In-place Cholesky factor of the lower triangle of a (q x q, row-major): a = L L^T. Returns 0,
 * or -1 if a is not (numerically) positive definite. */
static int chol(double *a, int32_t q)
{
    for (int32_t j = 0; j < q; j++) {
        double *aj = a + (size_t)j * q;
        for (int32_t i = 0; i <= j; i++) {
            const double *ai = a + (size_t)i * q;
            double s = aj[i] - dot_d(ai, aj, i);
            if (i < j) {
                aj[i] = s / ai[i];
            } else {
                if (!(s > 0)) return -1;
                aj[j] = sqrt(s);
            }
        }
    }
    return 0;
}

/* x = (L L^T)^-1 x: forward by rows, backward by row updates (both read L row by row) */
static void chol_solve(const double *l, int32_t q, double *x)
{
    for (int32_t i = 0; i < q; i++) {
        const double *li = l + (size_t)i * q;
        x[i] = (x[i] - dot_d(li, x, i)) / li[i];
    }
    for (int32_t i = q - 1; i >= 0; i--) {
        const double *li = l + (size_t)i * q;
        x[i] /= li[i];
        axpy_d(-x[i], li, x, i);
    }
}

/* L = chol(H), the lower triangles (q x q); if H is not definite in double, retried with a
 * diagonal shift growing from 1e-13 of its largest diagonal. Returns 0 or -1. */
static int factor_jitter(const double *h, double *l, int32_t q)
{
    double dmax = 0;
    for (int32_t i = 0; i < q; i++) dmax = fmax(dmax, h[(size_t)i * q + i]);
    double jit = 0;
    for (int t = 0; t < 8; t++) {
        for (int32_t i = 0; i < q; i++) {
            memcpy(l + (size_t)i * q, h + (size_t)i * q, sizeof(double) * (size_t)(i + 1));
            l[(size_t)i * q + i] += jit;
        }
        if (chol(l, q) == 0) return 0;
        jit = jit == 0 ? 1e-13 * (dmax > 0 ? dmax : 1) : jit * 100;
    }
    return -1;
}

/* ---- designs: the rows a fit sees ---------------------------------------------------------- */

typedef struct design {
    const float *xf;    /* float rows x + idx[j] * p, read as x - mu; or NULL */
    const double *mu;   /* (p) the shift of the float rows */
    const int32_t *idx; /* (m) rows of xf; NULL: 0..m-1 */
    const double *xd;   /* or double rows xd + j * ld, nonzero in their first len(j) values */
    int32_t ld;
    int32_t tri;        /* xd rows: len(j) = min(j + 1, p) (a pivoted Cholesky basis) */
    int32_t m, p;
    const double *y;    /* (m) targets in design order */
} design;

static int32_t row_len(const design *ds, int32_t j)
{
    if (ds->xf || !ds->tri) return ds->p;
    return j + 1 < ds->p ? j + 1 : ds->p;
}

static const float *row_f(const design *ds, int32_t j)
{
    return ds->xf + (size_t)(ds->idx ? ds->idx[j] : j) * (size_t)ds->p;
}

/* u_j · v; muv = mu · v for float rows */
static double row_dot(const design *ds, int32_t j, const double *v, double muv)
{
    if (ds->xf) return dot_fd(row_f(ds, j), v, ds->p) - muv;
    return dot_d(ds->xd + (size_t)j * ds->ld, v, row_len(ds, j));
}

/* acc += a u_j, leaving out the -a mu of float rows (the caller subtracts mu times the sum) */
static void row_axpy(const design *ds, int32_t j, double a, double *acc)
{
    if (ds->xf) axpy_fd(a, row_f(ds, j), acc, ds->p);
    else axpy_d(a, ds->xd + (size_t)j * ds->ld, acc, row_len(ds, j));
}

/* H (q x q, lower; q = p + 1) += sum_s wt[s] (1, u_j)(1, u_j)^T over the design rows j = sel[s]
 * (wt NULL: 1). The rows go in blocks of 8, converted to double once, so H is read and written
 * once per 8 rows: the hot loop of Hessian and scatter matrices. buf: 8 q doubles. */
static void acc_outer(const design *ds, const int32_t *sel, int32_t ns, const double *wt,
                      double *h, double *buf)
{
    int32_t q = ds->p + 1;
    for (int32_t s0 = 0; s0 < ns; s0 += 8) {
        int32_t nb = ns - s0 < 8 ? ns - s0 : 8, ql = 1;
        for (int32_t b = 0; b < nb; b++) {
            int32_t len = row_len(ds, sel[s0 + b]);
            if (len + 1 > ql) ql = len + 1;
        }
        const double *u[8];
        double wb[8];
        for (int32_t b = 0; b < 8; b++) {
            double *ub = buf + (size_t)b * q;
            u[b] = ub;
            if (b >= nb) {
                memset(ub, 0, sizeof(double) * (size_t)ql);
                wb[b] = 0;
                continue;
            }
            int32_t j = sel[s0 + b], len = row_len(ds, j);
            ub[0] = 1;
            if (ds->xf) {
                const float *xr = row_f(ds, j);
                for (int32_t k = 0; k < len; k++) ub[1 + k] = (double)xr[k] - ds->mu[k];
            } else {
                memcpy(ub + 1, ds->xd + (size_t)j * ds->ld, sizeof(double) * (size_t)len);
            }
            for (int32_t k = len + 1; k < ql; k++) ub[k] = 0;
            wb[b] = wt ? wt[s0 + b] : 1;
        }
        const double *u0 = u[0], *u1 = u[1], *u2 = u[2], *u3 = u[3];
        const double *u4 = u[4], *u5 = u[5], *u6 = u[6], *u7 = u[7];
        for (int32_t a = 0; a < ql; a++) {
            double c0 = wb[0] * u0[a], c1 = wb[1] * u1[a], c2 = wb[2] * u2[a], c3 = wb[3] * u3[a];
            double c4 = wb[4] * u4[a], c5 = wb[5] * u5[a], c6 = wb[6] * u6[a], c7 = wb[7] * u7[a];
            double *restrict ha = h + (size_t)a * q;
            for (int32_t k = 0; k <= a; k++)
                ha[k] += ((c0 * u0[k] + c1 * u1[k]) + (c2 * u2[k] + c3 * u3[k])) +
                         ((c4 * u4[k] + c5 * u5[k]) + (c6 * u6[k] + c7 * u7[k]));
        }
    }
}

/* sy (q) = (sum y_j, sum y_j u_j) over the design rows sel[0..ns) */
static void acc_targets(const design *ds, const int32_t *sel, int32_t ns, double *sy)
{
    int32_t p = ds->p;
    memset(sy, 0, sizeof(double) * (size_t)(p + 1));
    for (int32_t s = 0; s < ns; s++) {
        int32_t j = sel[s];
        sy[0] += ds->y[j];
        row_axpy(ds, j, ds->y[j], sy + 1);
    }
    if (ds->xf) axpy_d(-sy[0], ds->mu, sy + 1, p);
}

/* ---- ridge: the normal equations, tridiagonalised once per design -------------------------- */

/* A (p x p, lower, row-major; destroyed) = Q T Q^T with T tridiagonal: d (p) its diagonal, e (p)
 * its subdiagonal, Q = H_0 ... H_{p-3}, H_k = I - tau_k v_k v_k^T acting on entries k+1..p-1,
 * v_k (v_k[0] = 1) in row k of v (p x p). y: p scratch. As LAPACK's dsytd2 (lower). */
static void tridiag(double *A, int32_t p, double *d, double *e, double *v, double *tau, double *y)
{
    for (int32_t k = 0; k + 2 < p; k++) {
        int32_t s = p - 1 - k;
        double *vk = v + (size_t)k * p, alpha = A[(size_t)(k + 1) * p + k], xn = 0;
        vk[0] = 1;
        for (int32_t i = 1; i < s; i++) {
            vk[i] = A[(size_t)(k + 1 + i) * p + k];
            xn += vk[i] * vk[i];
        }
        if (xn == 0) {
            tau[k] = 0;
            e[k] = alpha;
            continue;
        }
        double beta = -copysign(sqrt(alpha * alpha + xn), alpha);
        tau[k] = (beta - alpha) / beta;
        double sc = 1 / (alpha - beta);
        for (int32_t i = 1; i < s; i++) vk[i] *= sc;
        e[k] = beta;
        /* y = tau B v for the trailing block B = A[k+1.., k+1..] (lower), then
         * y -= (tau / 2)(y·v) v, and B -= v y^T + y v^T */
        double *B = A + (size_t)(k + 1) * p + (k + 1);
        memset(y, 0, sizeof(double) * (size_t)s);
        for (int32_t i = 0; i < s; i++) { /* row i of the lower triangle: row and column part */
            const double *bi = B + (size_t)i * p;
            y[i] += dot_d(bi, vk, i) + bi[i] * vk[i];
            axpy_d(vk[i], bi, y, i);
        }
        for (int32_t i = 0; i < s; i++) y[i] *= tau[k];
        double kk = 0.5 * tau[k] * dot_d(y, vk, s);
        for (int32_t i = 0; i < s; i++) y[i] -= kk * vk[i];
        for (int32_t i = 0; i < s; i++) {
            double *restrict bi = B + (size_t)i * p;
            double vi = vk[i], yi = y[i];
            for (int32_t j = 0; j <= i; j++) bi[j] -= vi * y[j] + yi * vk[j];
        }
    }
    for (int32_t i = 0; i < p; i++) d[i] = A[(size_t)i * p + i];
    if (p >= 2) e[p - 2] = A[(size_t)(p - 1) * p + (p - 2)];
}

/* x = Q^T x (transpose != 0) or Q x */
static void reflect(const double *v, const double *tau, int32_t p, double *x, int transpose)
{
    for (int32_t t = 0; t + 2 < p; t++) {
        int32_t k = transpose ? t : p - 3 - t, s = p - 1 - k;
        const double *vk = v + (size_t)k * p;
        double c = tau[k] * dot_d(vk, x + k + 1, s);
        axpy_d(-c, vk, x + k + 1, s);
    }
}

/* t = (T + c I)^-1 z by T + c I = L D L^T (definite: T is similar to a scatter matrix, c > 0).
 * dd: p scratch. Returns 0, or -1 on a non-positive pivot. */
static int tri_solve(const double *d, const double *e, int32_t p, double c, const double *z,
                     double *t, double *dd)
{
    if (p == 0) return 0;
    dd[0] = d[0] + c;
    t[0] = z[0];
    for (int32_t i = 1; i < p; i++) {
        if (!(dd[i - 1] > 0)) return -1;
        double l = e[i - 1] / dd[i - 1];
        dd[i] = d[i] + c - l * e[i - 1];
        t[i] = z[i] - l * t[i - 1];
    }
    if (!(dd[p - 1] > 0)) return -1;
    t[p - 1] /= dd[p - 1];
    for (int32_t i = p - 2; i >= 0; i--) t[i] = t[i] / dd[i] - (e[i] / dd[i]) * t[i + 1];
    return 0;
}

/* Ridge at lams[0..nl) from the sums S (q x q, lower: S00 = m, S[1+k][0] = sum u_k, S[1+a][1+k]
 * = sum u_a u_k) and sy (sum y, sum y u): theta (nl x q) = (b', w) per lambda. */
static int ridge_path(const double *S, const double *sy, int32_t p, const double *lams, int32_t nl,
                      double *th, scratch *sc)
{
    int32_t q = p + 1;
    double m = S[0];
    size_t pp = (size_t)p * p;
    double *C = scratch_get(sc, sizeof(double) * (2 * pp + 7 * (size_t)p + 1));
    if (!C) return ae_fail(AE_ERR_NOMEM, "out of memory (ridge system of %d dimensions)", p);
    double *V = C + pp, *ub = V + pp, *rhs = ub + p, *d = rhs + p, *e = d + p, *tau = e + p;
    double *t = tau + p, *dd = t + p;
    double ybar = sy[0] / m;
    for (int32_t a = 0; a < p; a++) ub[a] = S[(size_t)(1 + a) * q] / m;
    for (int32_t a = 0; a < p; a++) {
        const double *sa = S + (size_t)(1 + a) * q + 1;
        double *ca = C + (size_t)a * p;
        for (int32_t k = 0; k <= a; k++) ca[k] = sa[k] - m * ub[a] * ub[k];
        rhs[a] = sy[1 + a] - m * ub[a] * ybar;
    }
    tridiag(C, p, d, e, V, tau, t);
    reflect(V, tau, p, rhs, 1);
    int rc = AE_OK;
    for (int32_t l = 0; l < nl && rc == AE_OK; l++) {
        double *tl = th + (size_t)l * q;
        if (tri_solve(d, e, p, lams[l] * m, rhs, tl + 1, dd)) {
            rc = ae_fail(AE_ERR_INVALID, "ridge: the normal equations are not positive definite");
            break;
        }
        reflect(V, tau, p, tl + 1, 0);
        tl[0] = ybar - dot_d(ub, tl + 1, p);
    }
    return rc;
}

/* ---- logistic: Newton with a lagged-Hessian preconditioned CG ------------------------------ */

/* The objective at th; g (q) its gradient, dc (m) each row's p (1 - p); *loss its data term. */
static double logit_eval(const design *ds, double lambda, const double *th, double *g,
                         double *dc, double *loss)
{
    int32_t m = ds->m, p = ds->p;
    const double *w = th + 1;
    double muw = ds->xf ? dot_d(ds->mu, w, p) : 0, sl = 0, sr = 0;
    memset(g, 0, sizeof(double) * (size_t)(p + 1));
    for (int32_t j = 0; j < m; j++) {
        double z = th[0] + row_dot(ds, j, w, muw), y = ds->y[j];
        double e = exp(-fabs(z)), l1 = log1p(e);
        /* logloss = y softplus(-z) + (1 - y) softplus(z), each without cancellation */
        sl += l1 + (z < 0 ? -y * z : (1 - y) * z);
        double pr = z >= 0 ? 1 / (1 + e) : e / (1 + e), r = pr - y;
        dc[j] = e / ((1 + e) * (1 + e));
        sr += r;
        row_axpy(ds, j, r, g + 1);
    }
    if (ds->xf) axpy_d(-sr, ds->mu, g + 1, p);
    double inv = 1.0 / m, ww = 0;
    g[0] = sr * inv;
    for (int32_t k = 0; k < p; k++) {
        g[1 + k] = g[1 + k] * inv + 2 * lambda * w[k];
        ww += w[k] * w[k];
    }
    *loss = sl * inv;
    return sl * inv + lambda * ww;
}

/* out = H v, the exact Hessian at the curvatures dc (one pass) */
static void logit_hv(const design *ds, double lambda, const double *dc, const double *v, double *out)
{
    int32_t m = ds->m, p = ds->p;
    double muv = ds->xf ? dot_d(ds->mu, v + 1, p) : 0, st = 0;
    memset(out, 0, sizeof(double) * (size_t)(p + 1));
    for (int32_t j = 0; j < m; j++) {
        if (dc[j] == 0) continue;
        double t = dc[j] * (v[0] + row_dot(ds, j, v + 1, muv));
        st += t;
        row_axpy(ds, j, t, out + 1);
    }
    if (ds->xf) axpy_d(-st, ds->mu, out + 1, p);
    double inv = 1.0 / m;
    out[0] = st * inv;
    for (int32_t k = 0; k < p; k++) out[1 + k] = out[1 + k] * inv + 2 * lambda * v[1 + k];
}

typedef struct pathstat {
    int32_t iterations, unconverged;
    double grad_max; /* the largest final relative gradient norm */
    double grad_last;
    int32_t converged_last;
} pathstat;

typedef struct logit_ws {
    int32_t q, ns, tmax;
    int32_t *sel;                       /* (ns) the Hessian's rows */
    double *wt;                         /* (ns) */
    double *H, *L;                      /* (q x q) */
    double *buf;                        /* (8 q) */
    double *g, *gt, *s, *r, *z, *pv, *hp, *tt; /* (q) each */
    double *dc, *dct;                   /* (m) each */
    int have, rebuild;
    double gref;
} logit_ws;

static int logit_ws_init(logit_ws *ws, const design *ds, scratch *sc)
{
    memset(ws, 0, sizeof *ws);
    int32_t m = ds->m, q = ds->p + 1;
    ws->q = q;
    int64_t cap = (int64_t)HESS_ROWS * q;
    ws->ns = m <= cap ? m : (int32_t)cap;
    size_t qq = (size_t)q * q, nd = (size_t)ws->ns + 2 * qq + 16 * (size_t)q + 2 * (size_t)m;
    double *blk = scratch_get(sc, sizeof(double) * nd + sizeof(int32_t) * (size_t)ws->ns);
    if (!blk) return ae_fail(AE_ERR_NOMEM, "out of memory (logistic fit of %d rows x %d)", m, q - 1);
    ws->wt = blk, ws->H = ws->wt + ws->ns, ws->L = ws->H + qq, ws->buf = ws->L + qq;
    ws->g = ws->buf + 8 * (size_t)q, ws->dc = ws->g + 8 * (size_t)q;
    ws->sel = (int32_t *)(blk + nd);
    ws->gt = ws->g + q, ws->s = ws->gt + q, ws->r = ws->s + q, ws->z = ws->r + q;
    ws->pv = ws->z + q, ws->hp = ws->pv + q, ws->tt = ws->hp + q;
    ws->dct = ws->dc + m;
    for (int32_t s = 0; s < ws->ns; s++) ws->sel[s] = (int32_t)((int64_t)s * m / ws->ns);
    /* rebuild when CG takes more than sqrt(build / iteration) iterations: beyond that the
     * iterations cost more than the Hessian they save (1.5 times that measured best) */
    double nnz = 0;
    for (int32_t j = 0; j < m; j++) nnz += row_len(ds, j) + 1;
    double build = nnz * ws->ns / m * q / 2 + (double)q * q * q / 6;
    double iter = 2 * nnz + (double)q * q;
    double t = 1.5 * sqrt(build / iter);
    ws->tmax = t < 3 ? 3 : t > 40 ? 40 : (int32_t)t;
    return AE_OK;
}

/* the preconditioner: the Hessian at the curvatures dc from the rows sel, factorised */
static int hess_factor(const design *ds, logit_ws *ws, double lambda, const double *dc)
{
    int32_t q = ws->q;
    for (int32_t s = 0; s < ws->ns; s++) ws->wt[s] = fmax(dc[ws->sel[s]], CURV_FLOOR) / ws->ns;
    memset(ws->H, 0, sizeof(double) * (size_t)q * q);
    acc_outer(ds, ws->sel, ws->ns, ws->wt, ws->H, ws->buf);
    for (int32_t k = 1; k < q; k++) ws->H[(size_t)k * q + k] += 2 * lambda;
    ws->rebuild = 0;
    ws->have = factor_jitter(ws->H, ws->L, q) == 0;
    return ws->have ? 0 : -1;
}

/* s = approximately -H^-1 g, to |H s + g| <= tol; returns the CG iterations */
static int32_t pcg(const design *ds, logit_ws *ws, double lambda, const double *dc, double tol)
{
    int32_t q = ws->q, it = 0;
    double *s = ws->s, *r = ws->r, *z = ws->z, *pv = ws->pv, *hp = ws->hp;
    for (int32_t k = 0; k < q; k++) s[k] = 0, r[k] = -ws->g[k], z[k] = r[k];
    chol_solve(ws->L, q, z);
    memcpy(pv, z, sizeof(double) * (size_t)q);
    double rz = dot_d(r, z, q);
    while (it < PCG_MAX) {
        logit_hv(ds, lambda, dc, pv, hp);
        double php = dot_d(pv, hp, q);
        it++;
        if (!(php > 0) || !(rz > 0)) {
            if (it == 1) memcpy(s, z, sizeof(double) * (size_t)q);
            break;
        }
        double alpha = rz / php;
        axpy_d(alpha, pv, s, q);
        axpy_d(-alpha, hp, r, q);
        if (norm2(r, q) <= tol) break;
        memcpy(z, r, sizeof(double) * (size_t)q);
        chol_solve(ws->L, q, z);
        double rz2 = dot_d(r, z, q), beta = rz2 / rz;
        rz = rz2;
        for (int32_t k = 0; k < q; k++) pv[k] = z[k] + beta * pv[k];
    }
    return it;
}

/* Newton from th, whose objective *f (data term *loss), gradient ws->g and curvatures ws->dc
 * are current, to |g| <= SOLVE_GTOL |g0|; th keeps the best iterate when it stops short. */
static void logit_newton(const design *ds, logit_ws *ws, double lambda, double *th, double *f,
                         double *loss, pathstat *st)
{
    int32_t q = ws->q, steps = 0;
    double tol = SOLVE_GTOL * ws->gref, gn = norm2(ws->g, q);
    int fresh = 0, ok = 0;
    for (;;) {
        gn = norm2(ws->g, q);
        if (gn <= tol) {
            ok = 1;
            break;
        }
        if (steps >= SOLVE_MAX_NEWTON) break;
        steps++;
        if (!ws->have || ws->rebuild) {
            if (hess_factor(ds, ws, lambda, ws->dc)) break;
            fresh = 1;
        }
        /* no more exact than the tolerance needs */
        double eta = fmax(fmin(ETA_MAX, sqrt(gn / ws->gref)), 0.25 * tol / gn);
        if (pcg(ds, ws, lambda, ws->dc, eta * gn) > ws->tmax) ws->rebuild = 1;
        double gs = dot_d(ws->g, ws->s, q), ft = 0, lt = 0;
        int accepted = 0;
        if (gs < 0) {
            double t = 1, ftol = 1e-12 * (1 + fabs(*f));
            for (int i = 0; i < LS_MAX && !accepted; i++, t *= 0.5) {
                for (int32_t k = 0; k < q; k++) ws->tt[k] = th[k] + t * ws->s[k];
                ft = logit_eval(ds, lambda, ws->tt, ws->gt, ws->dct, &lt);
                /* Armijo, or at rounding level a step that does not raise f and shrinks g */
                accepted = ft <= *f + 1e-4 * t * gs || (ft <= *f + ftol && norm2(ws->gt, q) < gn);
            }
        }
        if (!accepted) {
            if (fresh) break; /* even a fresh Hessian finds no descent: rounding level */
            ws->rebuild = 1;
            continue;
        }
        double *sw = ws->g;
        ws->g = ws->gt, ws->gt = sw;
        sw = ws->dc;
        ws->dc = ws->dct, ws->dct = sw;
        memcpy(th, ws->tt, sizeof(double) * (size_t)q);
        *f = ft, *loss = lt;
        fresh = 0;
    }
    gn = norm2(ws->g, q) / ws->gref;
    st->iterations += steps;
    st->grad_last = gn;
    st->converged_last = ok;
    if (!ok) st->unconverged++;
    if (gn > st->grad_max || isnan(gn)) st->grad_max = gn;
}

/* Evaluates the start cand (q) at lam; keeps it in tl, with its objective, gradient and
 * curvatures, when it is the first or has a lower objective than the kept one. */
static void try_start(const design *ds, logit_ws *ws, double lam, const double *cand, double *tl,
                      double *f, double *loss, int *have)
{
    double lt, ft = logit_eval(ds, lam, cand, ws->gt, ws->dct, &lt);
    if (*have && !(ft < *f)) return;
    double *sw = ws->g;
    ws->g = ws->gt, ws->gt = sw;
    sw = ws->dc;
    ws->dc = ws->dct, ws->dct = sw;
    memmove(tl, cand, sizeof(double) * (size_t)ws->q);
    *f = ft, *loss = lt, *have = 1;
}

/* Logistic at lams[0..nl) (descending) in turn: th (nl x q) = (b', w) per lambda. Each fit
 * starts from the better of the last solution and a secant through the last two in log lambda.
 * (Starting the folds' fits from the all-rows path plus their offset from it at the last
 * lambda was tried: a start ten times closer saved only 6% of the Newton steps, the steps from
 * any such start down to SOLVE_GTOL being most of them.) Needs 0 < mean y < 1 on the design
 * (checked by the callers). */
static int logit_path(const design *ds, const double *lams, int32_t nl, double *th,
                      pathstat *st, scratch *sc)
{
    logit_ws ws;
    int rc = logit_ws_init(&ws, ds, sc);
    if (rc) return rc;
    int32_t q = ws.q, m = ds->m;
    double loss = 0, f = 0, *cand = ws.tt;
    memset(cand, 0, sizeof(double) * (size_t)q);
    logit_eval(ds, lams[0], cand, ws.g, ws.dc, &loss); /* at w = 0, b = 0 */
    ws.gref = norm2(ws.g, q);
    if (!(ws.gref > 0)) ws.gref = 1;
    double ybar = 0;
    for (int32_t j = 0; j < m; j++) ybar += ds->y[j];
    ybar /= m;
    for (int32_t l = 0; l < nl; l++) {
        double lam = lams[l], *tl = th + (size_t)l * q;
        int have = 0;
        if (l == 0) {
            memset(cand, 0, sizeof(double) * (size_t)q);
            cand[0] = log(ybar / (1 - ybar));
            try_start(ds, &ws, lam, cand, tl, &f, &loss, &have);
        } else {
            const double *t1 = tl - q;
            /* the last solution's objective here, without a pass: its data term is known */
            double f1 = loss + lam * dot_d(t1 + 1, t1 + 1, q - 1);
            if (l >= 2) {
                const double *t2 = t1 - q;
                double rho = log(lam / lams[l - 1]) / log(lams[l - 1] / lams[l - 2]);
                for (int32_t k = 0; k < q; k++) cand[k] = t1[k] + rho * (t1[k] - t2[k]);
                try_start(ds, &ws, lam, cand, tl, &f, &loss, &have);
            }
            if (!have || !(f < f1)) {
                have = 0;
                try_start(ds, &ws, lam, t1, tl, &f, &loss, &have);
            }
        }
        logit_newton(ds, &ws, lam, tl, &f, &loss, st);
    }
    return AE_OK;
}

/* ---- fits on a set of rows: the design, its basis, and the way back to w, b ---------------- */

/* The rows a call works on: x's rows map[0..n) (map NULL: 0..n-1), their mean mu and, when some
 * fit has fewer rows than dimensions, their centred double copy U and its Gram matrix G. */
typedef struct rowset {
    const float *x;
    const int32_t *map;
    int32_t n, dim;
    const double *y; /* x's targets, indexed as x's rows */
    double *mu;      /* (dim) */
    double *U;       /* (n x dim) or NULL */
    double *G;       /* (n x n) or NULL */
    double scale;    /* the largest |x_i|^2 (with U): the basis tolerance's unit */
} rowset;

static int32_t rs_row(const rowset *rs, int32_t i) { return rs->map ? rs->map[i] : i; }

static void rowset_free(rowset *rs) { free(rs->mu), free(rs->U), free(rs->G); }

static int rowset_init(rowset *rs, const float *x, int32_t dim, const double *y,
                       const int32_t *map, int32_t n, int gram)
{
    memset(rs, 0, sizeof *rs);
    rs->x = x, rs->map = map, rs->n = n, rs->dim = dim, rs->y = y;
    rs->mu = calloc((size_t)dim, sizeof(double));
    if (!rs->mu) return ae_fail(AE_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < n; i++) axpy_fd(1, x + (size_t)rs_row(rs, i) * dim, rs->mu, dim);
    for (int32_t k = 0; k < dim; k++) rs->mu[k] /= n;
    if (!gram) return AE_OK;
    rs->U = malloc(sizeof(double) * (size_t)n * dim);
    rs->G = malloc(sizeof(double) * (size_t)n * n);
    if (!rs->U || !rs->G) {
        rowset_free(rs);
        return ae_fail(AE_ERR_NOMEM, "out of memory (Gram matrix of %d rows)", n);
    }
    for (int32_t i = 0; i < n; i++) {
        const float *xr = x + (size_t)rs_row(rs, i) * dim;
        double *ui = rs->U + (size_t)i * dim, s2 = 0;
        for (int32_t k = 0; k < dim; k++) {
            ui[k] = (double)xr[k] - rs->mu[k];
            s2 += (double)xr[k] * xr[k];
        }
        rs->scale = fmax(rs->scale, s2);
    }
    double *G = rs->G, o[4];
    for (int32_t i = 0; i < n; i++) {
        const double *ui = rs->U + (size_t)i * dim;
        int32_t j = 0;
        for (; j + 4 <= i + 1; j += 4) {
            const double *uj = rs->U + (size_t)j * dim;
            dot4(ui, uj, uj + dim, uj + 2 * (size_t)dim, uj + 3 * (size_t)dim, dim, o);
            for (int c = 0; c < 4; c++) G[(size_t)i * n + j + c] = o[c];
        }
        for (; j <= i; j++) G[(size_t)i * n + j] = dot_d(ui, rs->U + (size_t)j * dim, dim);
        for (j = 0; j < i; j++) G[(size_t)j * n + i] = G[(size_t)i * n + j];
    }
    return AE_OK;
}

/* One fit's design over the rowset's rows tr[0..m): the float rows when m >= dim, else the
 * pivoted Cholesky basis of their Gram matrix. */
typedef struct fitd {
    design ds;
    int reduced;
    int32_t m, r;
    int32_t *idx;  /* float: (m) x's rows; reduced: (m) rowset rows in pivot order */
    double *ys;    /* (m) */
    double *L;     /* reduced: (m x m) */
    int32_t *all;  /* (m) 0..m-1 */
} fitd;

static int fitd_make(fitd *fd, const rowset *rs, const int32_t *tr, int32_t m, scratch *sc)
{
    memset(fd, 0, sizeof *fd);
    fd->m = m;
    fd->reduced = m < rs->dim && rs->G;
    size_t nd = 2 * (size_t)m + (fd->reduced ? (size_t)m * m : 0);
    double *blk = scratch_get(sc, sizeof(double) * nd + 2 * sizeof(int32_t) * (size_t)m);
    if (!blk) return ae_fail(AE_ERR_NOMEM, "out of memory (fit of %d rows)", m);
    double *dg = blk + m;
    fd->ys = blk;
    fd->L = fd->reduced ? blk + 2 * (size_t)m : NULL;
    fd->idx = (int32_t *)(blk + nd);
    fd->all = fd->idx + m;
    for (int32_t j = 0; j < m; j++) fd->all[j] = j;
    design *ds = &fd->ds;
    ds->m = m;
    ds->y = fd->ys;
    if (!fd->reduced) {
        for (int32_t j = 0; j < m; j++) fd->idx[j] = rs_row(rs, tr[j]);
        ds->xf = rs->x, ds->mu = rs->mu, ds->idx = fd->idx, ds->p = rs->dim;
    } else {
        /* pivoted Cholesky of G on the rows tr: K = P L L^T P^T, the pivots in idx */
        int32_t n = rs->n, *perm = fd->idx, r = 0;
        double *L = fd->L;
        memcpy(perm, tr, sizeof(int32_t) * (size_t)m);
        for (int32_t i = 0; i < m; i++) dg[i] = rs->G[(size_t)perm[i] * n + perm[i]];
        for (int32_t k = 0; k < m; k++) {
            int32_t jb = k;
            for (int32_t i = k + 1; i < m; i++)
                if (dg[i] > dg[jb]) jb = i;
            /* relative to the rows' own size, not the centred one: rows equal up to rounding
             * (a centred residual of rounding noise) get no coordinate */
            if (!(dg[jb] > BASIS_TOL * rs->scale)) break;
            if (jb != k) {
                int32_t ti = perm[k];
                perm[k] = perm[jb], perm[jb] = ti;
                double td = dg[k];
                dg[k] = dg[jb], dg[jb] = td;
                double *lk = L + (size_t)k * m, *lj = L + (size_t)jb * m;
                for (int32_t c = 0; c < k; c++) td = lk[c], lk[c] = lj[c], lj[c] = td;
            }
            double *lk = L + (size_t)k * m, piv = sqrt(dg[k]);
            lk[k] = piv;
            const double *gk = rs->G + (size_t)perm[k] * n;
            for (int32_t i = k + 1; i < m; i++) {
                double *li = L + (size_t)i * m;
                li[k] = (gk[perm[i]] - dot_d(li, lk, k)) / piv;
                dg[i] -= li[k] * li[k];
            }
            r = k + 1;
        }
        fd->r = r;
        ds->xd = L, ds->ld = m, ds->tri = 1, ds->p = r;
    }
    for (int32_t j = 0; j < m; j++)
        fd->ys[j] = rs->y[fd->reduced ? rs_row(rs, fd->idx[j]) : fd->idx[j]];
    return AE_OK;
}

/* The design coordinates of rowset row i (reduced designs: its projection on the basis) */
static void fitd_project(const fitd *fd, const rowset *rs, int32_t i, double *f)
{
    int32_t m = fd->m;
    const double *gi = rs->G + (size_t)i * rs->n;
    for (int32_t k = 0; k < fd->r; k++) {
        const double *lk = fd->L + (size_t)k * m;
        f[k] = (gi[fd->idx[k]] - dot_d(lk, f, k)) / lk[k];
    }
}

/* (b', w) in design coordinates -> w (dim), *b for the caller's rows: w·x + b. alpha: m scratch */
static void fitd_weights(const fitd *fd, const rowset *rs, const double *th, double *w, double *b,
                         double *alpha)
{
    int32_t dim = rs->dim;
    if (!fd->reduced) {
        memcpy(w, th + 1, sizeof(double) * (size_t)dim);
    } else {
        /* w = sum_i alpha_i u_{pivot i}, alpha = L11^-T v: the basis vectors are L11^-1 U_piv */
        int32_t m = fd->m, r = fd->r;
        memcpy(alpha, th + 1, sizeof(double) * (size_t)r);
        for (int32_t i = r - 1; i >= 0; i--) {
            const double *li = fd->L + (size_t)i * m;
            alpha[i] /= li[i];
            axpy_d(-alpha[i], li, alpha, i);
        }
        memset(w, 0, sizeof(double) * (size_t)dim);
        for (int32_t i = 0; i < r; i++) axpy_d(alpha[i], rs->U + (size_t)fd->idx[i] * dim, w, dim);
    }
    *b = th[0] - dot_d(rs->mu, w, dim);
}

static double sigmoid(double z) { return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)); }

/* Fits kind on the design at lams[0..nl): th (nl x q). Ridge sums may be given (S, sy), else
 * they are accumulated from the design's rows. */
static int fitd_path(solve_kind kind, const fitd *fd, const double *S, const double *sy,
                     const double *lams, int32_t nl, double *th, pathstat *st, work *wk)
{
    if (kind == SOLVE_LOGISTIC) return logit_path(&fd->ds, lams, nl, th, st, &wk->logit);
    if (S) return ridge_path(S, sy, fd->ds.p, lams, nl, th, &wk->ridge);
    int32_t q = fd->ds.p + 1;
    double *Sa = scratch_get(&wk->sums, sizeof(double) * ((size_t)q * q + 9 * (size_t)q));
    if (!Sa) return ae_fail(AE_ERR_NOMEM, "out of memory (ridge system of %d dimensions)", q - 1);
    double *sya = Sa + (size_t)q * q, *buf = sya + q;
    memset(Sa, 0, sizeof(double) * (size_t)q * q);
    acc_outer(&fd->ds, fd->all, fd->m, NULL, Sa, buf);
    acc_targets(&fd->ds, fd->all, fd->m, sya);
    return ridge_path(Sa, sya, fd->ds.p, lams, nl, th, &wk->ridge);
}

/* ---- validation ---------------------------------------------------------------------------- */

static int check_rows(const char *fn, solve_kind kind, const float *x, int32_t n, int32_t dim,
                      const double *y, const int32_t *rows, int32_t m)
{
    if (kind != SOLVE_LOGISTIC && kind != SOLVE_RIDGE)
        return ae_fail(AE_ERR_INVALID, "%s: unknown kind %d", fn, (int)kind);
    if (!x || !y) return ae_fail(AE_ERR_INVALID, "%s: NULL argument", fn);
    if (n < 2) return ae_fail(AE_ERR_INVALID, "%d row%s: training needs at least 2", n, n == 1 ? "" : "s");
    if (dim < 1 || dim > SOLVE_MAX_DIM)
        return ae_fail(AE_ERR_INVALID, "dimension %d is outside 1..%d", dim, SOLVE_MAX_DIM);
    if (m < 2) return ae_fail(AE_ERR_INVALID, "%d row%s: training needs at least 2", m, m == 1 ? "" : "s");
    for (int32_t j = 0; j < m; j++) {
        int32_t i = rows ? rows[j] : j;
        if (i < 0 || i >= n)
            return ae_fail(AE_ERR_INVALID, "%s: row %d is outside 0..%d", fn, i, n - 1);
        const float *xr = x + (size_t)i * dim;
        for (int32_t k = 0; k < dim; k++)
            if (!isfinite(xr[k]))
                return ae_fail(AE_ERR_INVALID, "embedding %d is not finite (value %d is %g)", i, k,
                               (double)xr[k]);
        if (!isfinite(y[i])) return ae_fail(AE_ERR_INVALID, "target %d is not finite (%g)", i, y[i]);
        if (kind == SOLVE_LOGISTIC && !(y[i] >= 0 && y[i] <= 1))
            return ae_fail(AE_ERR_INVALID, "label %d is %g: logistic labels lie in [0, 1]", i, y[i]);
    }
    return AE_OK;
}

/* logistic: the unpenalised bias needs 0 < mean y < 1, i.e. a label that is not 1 and one that is
 * not 0; "where" names the rows in the message */
static int check_classes(const double *y, const int32_t *rows, int32_t m, const char *where)
{
    int32_t ones = 0, zeros = 0;
    for (int32_t j = 0; j < m; j++) {
        double v = y[rows ? rows[j] : j];
        ones += v == 1;
        zeros += v == 0;
    }
    if (ones == m || zeros == m)
        return ae_fail(AE_ERR_INVALID, "%sall %d labels are '%s': training needs both good and bad examples",
                       where, m, ones == m ? "good" : "bad");
    return AE_OK;
}

/* ---- public calls -------------------------------------------------------------------------- */

int solve_predict(solve_kind kind, const float *x, int32_t n, int32_t dim, const double *w,
                  double b, double *pred)
{
    if ((kind != SOLVE_LOGISTIC && kind != SOLVE_RIDGE) || !x || !w || !pred || n < 0 || dim < 1)
        return ae_fail(AE_ERR_INVALID, "solve_predict: invalid arguments (n = %d, dim = %d)", n, dim);
    for (int32_t i = 0; i < n; i++) {
        double z = dot_fd(x + (size_t)i * dim, w, dim) + b;
        pred[i] = kind == SOLVE_LOGISTIC ? sigmoid(z) : z;
    }
    return AE_OK;
}

int solve_fit(solve_kind kind, const float *x, int32_t n, int32_t dim, const double *y,
              const int32_t *rows, int32_t nrows, double lambda, double *w, double *b,
              solve_info *info)
{
    int32_t m = rows ? nrows : n;
    if (info) memset(info, 0, sizeof *info);
    if (!w || !b) return ae_fail(AE_ERR_INVALID, "solve_fit: NULL argument");
    int rc = check_rows("solve_fit", kind, x, n, dim, y, rows, m);
    if (rc) return rc;
    if (!(lambda > 0) || !isfinite(lambda))
        return ae_fail(AE_ERR_INVALID, "penalty %g: it must be positive and finite", lambda);
    if (kind == SOLVE_LOGISTIC && (rc = check_classes(y, rows, m, ""))) return rc;

    /* the continuation: the grid values above lambda, then lambda */
    double lams[SOLVE_NLAMBDA + 1];
    int32_t nl = 0;
    if (kind == SOLVE_LOGISTIC)
        for (int32_t j = 0; j < SOLVE_NLAMBDA && solve_lambda(j) > lambda * (1 + 1e-12); j++)
            lams[nl++] = solve_lambda(j);
    lams[nl++] = lambda;

    rowset rs;
    fitd fd;
    double *th = NULL, *alpha = NULL;
    int32_t *all = NULL;
    pathstat st = {0};
    work wk;
    memset(&wk, 0, sizeof wk);
    if ((rc = rowset_init(&rs, x, dim, y, rows, m, m < dim))) return rc;
    all = malloc(sizeof(int32_t) * (size_t)m);
    if (!all) {
        rc = ae_fail(AE_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int32_t j = 0; j < m; j++) all[j] = j;
    if ((rc = fitd_make(&fd, &rs, all, m, &wk.fd))) goto done;
    int32_t q = fd.ds.p + 1;
    th = malloc(sizeof(double) * (size_t)nl * q);
    alpha = malloc(sizeof(double) * (size_t)m);
    if (!th || !alpha) {
        rc = ae_fail(AE_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = fitd_path(kind, &fd, NULL, NULL, lams, nl, th, &st, &wk))) goto done;
    fitd_weights(&fd, &rs, th + (size_t)(nl - 1) * q, w, b, alpha);
    if (info) {
        info->iterations = st.iterations;
        info->converged = kind == SOLVE_RIDGE || st.converged_last;
        info->grad_norm = kind == SOLVE_RIDGE ? 0 : st.grad_last;
    }
done:
    free(th), free(alpha), free(all);
    work_free(&wk);
    rowset_free(&rs);
    return rc;
}

/* ---- folds --------------------------------------------------------------------------------- */

typedef struct gkey {
    int64_t id;
    int32_t row;
} gkey;

static int gkey_cmp(const void *a, const void *b)
{
    const gkey *p = a, *q = b;
    if (p->id != q->id) return p->id < q->id ? -1 : 1;
    return (p->row > q->row) - (p->row < q->row);
}

typedef struct gorder {
    int32_t size, rank, g;
    double mean;
} gorder;

/* largest first, then by mean target, then in shuffled order (a total order: deterministic) */
static int gorder_cmp(const void *a, const void *b)
{
    const gorder *p = a, *q = b;
    if (p->size != q->size) return p->size > q->size ? -1 : 1;
    if (p->mean != q->mean) return p->mean < q->mean ? -1 : 1;
    return (p->rank > q->rank) - (p->rank < q->rank);
}

int solve_folds(const double *y, const int64_t *groups, int32_t n, int32_t k, uint64_t seed,
                int32_t *fold)
{
    if (!fold) return ae_fail(AE_ERR_INVALID, "solve_folds: NULL argument");
    if (n < 2) return ae_fail(AE_ERR_INVALID, "%d row%s: cross-validation needs at least 2", n, n == 1 ? "" : "s");
    if (k < 2) return ae_fail(AE_ERR_INVALID, "cross-validation needs at least 2 folds, not %d", k);
    if (y)
        for (int32_t i = 0; i < n; i++)
            if (!isfinite(y[i])) return ae_fail(AE_ERR_INVALID, "target %d is not finite (%g)", i, y[i]);
    gkey *key = malloc(sizeof(gkey) * (size_t)n);
    int32_t *gid = malloc(sizeof(int32_t) * (size_t)n);
    gorder *go = malloc(sizeof(gorder) * (size_t)n);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)n);
    double *fsum = malloc(sizeof(double) * (size_t)k);
    int64_t *fsize = malloc(sizeof(int64_t) * (size_t)k);
    int rc = AE_OK;
    if (!key || !gid || !go || !perm || !fsum || !fsize) {
        rc = ae_fail(AE_ERR_NOMEM, "out of memory (folds of %d rows)", n);
        goto done;
    }
    /* dense group numbers in ascending id order */
    for (int32_t i = 0; i < n; i++) key[i] = (gkey){groups ? groups[i] : i, i};
    if (groups) qsort(key, (size_t)n, sizeof *key, gkey_cmp);
    int32_t ng = 0;
    for (int32_t i = 0; i < n; i++) {
        if (i == 0 || key[i].id != key[i - 1].id) {
            go[ng] = (gorder){0, 0, ng, 0};
            ng++;
        }
        gid[key[i].row] = ng - 1;
        go[ng - 1].size++;
        go[ng - 1].mean += y ? y[key[i].row] : 0;
    }
    if (ng < 2) {
        rc = ae_fail(AE_ERR_INVALID, "all %d rows share one group: cross-validation needs at least 2 groups", n);
        goto done;
    }
    double total = 0;
    for (int32_t g = 0; g < ng; g++) {
        total += go[g].mean;
        go[g].mean /= go[g].size;
    }
    double share = total / n; /* the target per row every fold should approach */
    /* Fisher-Yates over the groups */
    stats_rng rng;
    stats_rng_seed(&rng, seed);
    for (int32_t g = 0; g < ng; g++) perm[g] = g;
    for (int32_t g = ng - 1; g > 0; g--) {
        int32_t j = (int32_t)stats_rng_below(&rng, (uint64_t)g + 1), t = perm[g];
        perm[g] = perm[j], perm[j] = t;
    }
    for (int32_t g = 0; g < ng; g++) go[perm[g]].rank = g;
    qsort(go, (size_t)ng, sizeof *go, gorder_cmp);
    int32_t kk = k < ng ? k : ng;
    for (int32_t f = 0; f < kk; f++) fsum[f] = 0, fsize[f] = 0;
    /* each group to one of the smallest folds: sizes then differ by at most the largest group;
     * among those, to the one whose target sum stays closest to its share */
    int32_t *gfold = perm; /* reused: group number -> fold */
    for (int32_t o = 0; o < ng; o++) {
        const gorder *gr = &go[o];
        int64_t smin = fsize[0];
        for (int32_t f = 1; f < kk; f++)
            if (fsize[f] < smin) smin = fsize[f];
        int32_t best = -1;
        double bdev = 0, gs = gr->mean * gr->size;
        for (int32_t f = 0; f < kk; f++) {
            if (fsize[f] != smin) continue;
            double dev = fabs(fsum[f] + gs - share * (double)(fsize[f] + gr->size));
            if (best < 0 || dev < bdev) best = f, bdev = dev;
        }
        gfold[gr->g] = best;
        fsize[best] += gr->size;
        fsum[best] += gs;
    }
    for (int32_t i = 0; i < n; i++) fold[i] = gfold[gid[i]];
    rc = kk;
done:
    free(key), free(gid), free(go), free(perm), free(fsum), free(fsize);
    return rc;
}

/* ---- cross-validation ---------------------------------------------------------------------- */

int solve_cv(solve_kind kind, const float *x, int32_t n, int32_t dim, const double *y,
             const int64_t *groups, int32_t folds, uint64_t seed, double *w, double *b,
             solve_report *rep)
{
    double *oof_out = rep ? rep->oof : NULL;
    if (rep) {
        memset(rep, 0, sizeof *rep);
        rep->oof = oof_out;
        rep->lambda = rep->cv_metric = rep->cv_secondary = NAN;
    }
    if (!w || !b) return ae_fail(AE_ERR_INVALID, "solve_cv: NULL argument");
    int rc = check_rows("solve_cv", kind, x, n, dim, y, NULL, n);
    if (rc) return rc;
    if (folds < 2) return ae_fail(AE_ERR_INVALID, "cross-validation needs at least 2 folds, not %d", folds);
    if (kind == SOLVE_LOGISTIC) {
        int32_t good = 0;
        for (int32_t i = 0; i < n; i++) good += y[i] > 0.5;
        if (good == 0 || good == n)
            return ae_fail(AE_ERR_INVALID,
                           "all %d labels are '%s' (%s 0.5): training needs both good and bad examples",
                           n, good ? "good" : "bad", good ? ">" : "<=");
    }

    double lams[SOLVE_NLAMBDA], muw[SOLVE_NLAMBDA];
    for (int32_t j = 0; j < SOLVE_NLAMBDA; j++) lams[j] = solve_lambda(j);
    const int32_t nl = SOLVE_NLAMBDA;
    int32_t *fold = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *tr = malloc(sizeof(int32_t) * (size_t)n);
    double *oofs = malloc(sizeof(double) * (size_t)nl * n);
    double *feat = NULL, *th = NULL, *alpha = NULL, *S = NULL, *Sf = NULL, *buf = NULL;
    int32_t *all = NULL;
    rowset rs;
    fitd fd;
    pathstat st = {0};
    work wk;
    memset(&wk, 0, sizeof wk);
    memset(&rs, 0, sizeof rs);
    if (!fold || !tr || !oofs) {
        rc = ae_fail(AE_ERR_NOMEM, "out of memory (cross-validation of %d rows)", n);
        goto done;
    }
    int32_t k = solve_folds(y, groups, n, folds, seed, fold);
    if (k < 0) {
        rc = k;
        goto done;
    }
    int32_t fmax_size = 0;
    for (int32_t f = 0; f < k; f++) {
        int32_t c = 0;
        for (int32_t i = 0; i < n; i++) c += fold[i] == f;
        if (c > fmax_size) fmax_size = c;
    }
    /* a basis (Gram matrix) is needed when some fit has fewer rows than dimensions; with more
     * than GRAM_MAX rows (a fold of huge groups leaving few rows to train on) those fits read
     * the float rows instead: slower (dim^3 / 6 per Hessian), but without n^2 memory */
    int need_gram = n - fmax_size < dim && n <= GRAM_MAX;
    if ((rc = rowset_init(&rs, x, dim, y, NULL, n, need_gram))) goto done;
    int32_t q = dim + 1;
    th = malloc(sizeof(double) * (size_t)nl * q);
    feat = malloc(sizeof(double) * (size_t)(dim > n ? n : dim));
    alpha = malloc(sizeof(double) * (size_t)n);
    all = malloc(sizeof(int32_t) * (size_t)n);
    if (!th || !feat || !alpha || !all) {
        rc = ae_fail(AE_ERR_NOMEM, "out of memory (cross-validation of %d rows)", n);
        goto done;
    }
    for (int32_t i = 0; i < n; i++) all[i] = i;
    /* ridge on float rows: the sums of all rows once; each fold's training sums are those
     * minus the fold's own */
    design dall = {x, rs.mu, NULL, NULL, 0, 0, n, dim, y};
    if (kind == SOLVE_RIDGE && n - fmax_size >= dim) {
        size_t qq = (size_t)q * q;
        S = calloc(qq + (size_t)q, sizeof(double));
        Sf = malloc(sizeof(double) * (qq + (size_t)q));
        buf = malloc(sizeof(double) * 8 * (size_t)q);
        if (!S || !Sf || !buf) {
            rc = ae_fail(AE_ERR_NOMEM, "out of memory (ridge system of %d dimensions)", dim);
            goto done;
        }
        acc_outer(&dall, all, n, NULL, S, buf);
        acc_targets(&dall, all, n, S + qq);
    }

    for (int32_t f = 0; f < k; f++) {
        int32_t m = 0, mt = 0;
        for (int32_t i = 0; i < n; i++)
            if (fold[i] != f) tr[m++] = i;
        int32_t *te = tr + m;
        for (int32_t i = 0; i < n; i++)
            if (fold[i] == f) te[mt++] = i;
        char where[64];
        snprintf(where, sizeof where, "fold %d of %d: its training rows: ", f + 1, k);
        if (kind == SOLVE_LOGISTIC && (rc = check_classes(y, tr, m, where))) goto done;
        if ((rc = fitd_make(&fd, &rs, tr, m, &wk.fd))) goto done;
        int32_t p = fd.ds.p, qf = p + 1;
        const double *Su = NULL, *syu = NULL;
        if (S && !fd.reduced) {
            size_t qq = (size_t)q * q;
            memset(Sf, 0, sizeof(double) * (qq + q));
            acc_outer(&dall, te, mt, NULL, Sf, buf);
            acc_targets(&dall, te, mt, Sf + qq);
            for (size_t e = 0; e < qq + q; e++) Sf[e] = S[e] - Sf[e];
            Su = Sf, syu = Sf + qq;
        }
        if ((rc = fitd_path(kind, &fd, Su, syu, lams, nl, th, &st, &wk))) goto done;
        /* the fold's rows, predicted at every lambda */
        for (int32_t l = 0; !fd.reduced && l < nl; l++) /* b' - mu·w: the float rows' shift */
            muw[l] = th[(size_t)l * qf] - dot_d(rs.mu, th + (size_t)l * qf + 1, dim);
        for (int32_t t = 0; t < mt; t++) {
            int32_t i = te[t];
            if (fd.reduced) fitd_project(&fd, &rs, i, feat);
            for (int32_t l = 0; l < nl; l++) {
                const double *tl = th + (size_t)l * qf;
                double z;
                if (fd.reduced) z = tl[0] + dot_d(feat, tl + 1, p);
                else z = muw[l] + dot_fd(x + (size_t)i * dim, tl + 1, dim);
                oofs[(size_t)l * n + i] = kind == SOLVE_LOGISTIC ? sigmoid(z) : z;
            }
        }
    }

    /* the lambda of the smallest out-of-fold criterion, ties to the larger */
    int32_t best = -1;
    double bcrit = 0;
    for (int32_t l = 0; l < nl; l++) {
        const double *o = oofs + (size_t)l * n;
        double c = kind == SOLVE_LOGISTIC ? stats_logloss(o, y, n) : stats_mse(o, y, n);
        if (isnan(c)) continue;
        if (best < 0 || c < bcrit) best = l, bcrit = c;
    }
    if (best < 0) best = 0;
    const double *ob = oofs + (size_t)best * n;

    /* the refit on all rows, along the grid down to the chosen lambda */
    if ((rc = fitd_make(&fd, &rs, all, n, &wk.fd))) goto done;
    if (S && !fd.reduced) rc = fitd_path(kind, &fd, S, S + (size_t)q * q, lams + best, 1, th, &st, &wk);
    else if (kind == SOLVE_RIDGE) rc = fitd_path(kind, &fd, NULL, NULL, lams + best, 1, th, &st, &wk);
    else rc = fitd_path(kind, &fd, NULL, NULL, lams, best + 1, th, &st, &wk);
    if (rc) goto done;
    int32_t last = kind == SOLVE_RIDGE ? 0 : best;
    fitd_weights(&fd, &rs, th + (size_t)last * (fd.ds.p + 1), w, b, alpha);
    if (rep) {
        rep->lambda = lams[best];
        rep->folds = k;
        rep->cv_secondary = bcrit;
        rep->cv_metric = kind == SOLVE_LOGISTIC ? stats_accuracy(ob, y, n, 0.5, 0.5)
                                                : stats_spearman(ob, y, n);
        rep->unconverged = st.unconverged;
        rep->grad_max = st.grad_max;
        if (oof_out) memcpy(oof_out, ob, sizeof(double) * (size_t)n);
    }
done:
    work_free(&wk);
    rowset_free(&rs);
    free(fold), free(tr), free(oofs), free(feat), free(th), free(alpha), free(S), free(Sf), free(buf);
    free(all);
    return rc;
}
