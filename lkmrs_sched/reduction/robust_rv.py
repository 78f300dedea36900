"""Outlier-robust RV-variability test: likelihood ratio under a core + tail error model.

Statistical model (per star, epochs k = 1 … N, measured RV v_k at S/N s_k)::

    v_k = μ + ε_k,   ε_k ~ (1 − f) · Normal(0, c_b² σ_k² + J²)
                           + f · Cauchy(0, sqrt(t² σ_k² + J²))

* σ_k = σ_RV(min(s_k, 300)) is the internal precision of Eq. 4 *fitted by the
  reduction itself* (:mod:`.uncertainty`);
* the **core** scale c_b (one per S/N bin, :data:`SNR_EDGES`), the **tail weight** f and
  the **tail scale** t are one set for all stars, fitted by maximum likelihood (EM) to the
  residuals of stars with many RVs (:func:`fit_sample`, :func:`fit_error_model`); stars
  that the test then flags at p < :data:`CLEAN_P` are left out and the model is fitted
  again (twice), so that binaries do not pass for tail errors. The tail is a Cauchy law
  so that any outlier, however far, costs only a logarithm (a Gaussian tail would let
  one 100σ epoch look like a jitter);
* J ≥ 0 is the star's RV jitter. The star is **constant** when J ≤ J₀ = τ σ̄, with σ̄
  the RMS core σ of its epochs and τ = ``tolerance`` (default :data:`TOLERANCE` = 0.4):
  a few per cent misfit of the error model (σ_RV differs with spectral type, zero-point
  residuals, the Eq. 4 shape) then does not turn into detections at ~100 epochs, where
  a 5 % error in σ alone would raise the false-alarm rate of an exact-σ test ninefold.
  A jitter below 0.4 σ̄ is undetectable at p < 10⁻³ with ≤ 100 epochs anyway.

Test statistic: the larger of two likelihood ratios against "constant" (J = J₀, the
star's tail weight f), under the same error mixture:

* **jitter**: Λ_J = 2 [max_{μ, J ≥ J₀} ℓ(μ, J) − max_μ ℓ(μ, J₀)] (0 when the best J is
  below J₀): the star's epochs scatter beyond the core *and* the tail;
* **excess tail**: Λ_f = 2 [max_{f_i ≥ f} ℓ(μ₀, J₀; f_i) − ℓ(μ₀, J₀; f)]: the star has
  more tail epochs than the population's share f. Outliers correlated by star are what
  binaries sampled at a few phases look like (an RV curve that sits at two or three
  levels is no Gaussian jitter; brief §8: the paper's RV outliers are mainly binaries).

A single far-out epoch is explained by the tail (it costs log f), so neither fires.

Null distribution and threshold (at the least favourable constant star, J = J₀). For
N > :data:`N_MONTE_CARLO` epochs each ratio follows ½χ²₀ + ½χ²₁ (a one-sided test of one
parameter; Chernoff 1954, Self & Liang 1987), so p ≤ P(χ²₁ ≥ Λ) for the larger of the two
(Bonferroni; used as p). For fewer epochs that law is wrong (with two epochs a tail epoch
and a jitter are nearly the same thing), so p is read off the null distribution of Λ
for that N under the fitted model, drawn by Monte Carlo (:func:`null_distribution`:
:data:`NULL_DRAWS` stars of N equal-σ epochs, fixed seed, the same algorithm). A star is
an RV variable when p < α (default 10⁻³): a per-star false-alarm probability, whatever the
number of stars tested or of epochs each has (no look-elsewhere correction is implied).
For a truly constant star (J = 0 < J₀)
the false-alarm rate is below α.

Computation (vectorised over stars; no Python loop over stars or epochs): epochs are
sorted by star once and every per-star sum is one ``np.add.reduceat``. μ under H0 is
found by EM from the weighted median. Under H1, Λ is evaluated with μ held at the H0
value on a grid of J (:data:`JITTER_GRID` times σ̄), then, for the stars where it matters
(Λ > :data:`REFINE_ABOVE`, far below any threshold), refined by a golden-section search
in log J with μ re-estimated (two EM steps) at every J; f_i by EM at μ₀, J₀. The
computed Λ is never above the exact maximum, and the Monte Carlo null uses the same
algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lkmrs_sched.reduction.groups import weighted_median

#: S/N bin edges of the core scale c_b.
SNR_EDGES: tuple[float, ...] = (0.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0, np.inf)
#: Stars need this many RVs for the error-model fit ...
MIN_FIT_EPOCHS = 3
#: ... and only stars with this many are used when they have MIN_RICH_EPOCHS in all.
RICH_EPOCHS = 8
MIN_RICH_EPOCHS = 20_000
#: Below and at this many epochs the null distribution of Λ is drawn by Monte Carlo
#: (beyond it ½χ²₀ + ½χ²₁ is right or conservative for tail weights up to ~0.15).
N_MONTE_CARLO = 10
#: Constant stars drawn per epoch count for the Monte Carlo null.
NULL_DRAWS = 20_000
#: Jitter grid of the first pass, in units of the star's RMS core σ.
JITTER_GRID = 2.0 ** np.arange(-1.0, 7.5, 1.0)
#: Stars whose grid Λ exceeds this get the refined search (well below any threshold).
REFINE_ABOVE = 2.0
#: The error model is fitted on at most about this many epochs (whole stars, evenly spread).
FIT_EPOCHS = 120_000
#: Default jitter tolerance τ of a constant star, in units of its RMS core σ.
TOLERANCE = 0.4


@dataclass(frozen=True)
class ErrorModel:
    """Core + tail mixture of the per-epoch RV errors (see the module docstring).

    Attributes
    ----------
    snr_edges : tuple of float
        S/N bin edges of ``core_scale``.
    core_scale : tuple of float
        c_b per S/N bin: the core σ is c_b · σ_RV(S/N) (1 where a bin had no epochs).
    tail_fraction : float
        f, the share of epochs in the tail.
    tail_scale : float
        t: the tail σ is t · σ_RV(S/N).
    n_epochs, n_stars : int
        Epochs and stars the fit used.
    """

    snr_edges: tuple[float, ...] = SNR_EDGES
    core_scale: tuple[float, ...] = (1.0,) * (len(SNR_EDGES) - 1)
    tail_fraction: float = 0.02
    tail_scale: float = 5.0
    n_epochs: int = 0
    n_stars: int = 0

    def core_at(self, snr: np.ndarray) -> np.ndarray:
        """c_b of each S/N."""
        b = np.clip(np.searchsorted(self.snr_edges, snr, side="right") - 1, 0,
                    len(self.core_scale) - 1)
        return np.asarray(self.core_scale)[b]

    @property
    def tail_to_core(self) -> float:
        """t over the median core scale (the shape of the standardised null model)."""
        return float(self.tail_scale / np.median(self.core_scale))

    def to_dict(self) -> dict:
        """JSON-ready parameters."""
        return {"snr_edges": [float(e) for e in self.snr_edges],
                "core_scale": [float(c) for c in self.core_scale],
                "tail_fraction": float(self.tail_fraction),
                "tail_scale": float(self.tail_scale),
                "n_epochs": int(self.n_epochs), "n_stars": int(self.n_stars)}


@dataclass(frozen=True)
class Segments:
    """Epochs sorted by star: star ``i`` owns epochs ``starts[i] : starts[i] + counts[i]``."""

    starts: np.ndarray
    counts: np.ndarray

    @classmethod
    def of_sorted(cls, codes: np.ndarray) -> Segments:
        """Segments of sorted, non-negative star codes (one segment per distinct code)."""
        new = np.ones(codes.size, dtype=bool)
        new[1:] = codes[1:] != codes[:-1]
        starts = np.flatnonzero(new)
        return cls(starts, np.diff(np.append(starts, codes.size)))

    def sum(self, x: np.ndarray) -> np.ndarray:
        """Per-star sums."""
        return np.add.reduceat(x, self.starts) if self.starts.size else np.zeros(0)

    def spread(self, per_star: np.ndarray) -> np.ndarray:
        """A per-star value on each of its epochs."""
        return np.repeat(per_star, self.counts)

    def take(self, stars: np.ndarray) -> tuple[Segments, np.ndarray]:
        """The segments of the stars ``stars`` (sorted) and the epochs they own."""
        counts = self.counts[stars]
        epochs = np.repeat(self.starts[stars] - np.cumsum(counts) + counts, counts) + np.arange(
            counts.sum())
        return Segments(np.cumsum(counts) - counts, counts), epochs


@dataclass(frozen=True)
class _Mixture:
    """Per-epoch core variance and tail scale² (km/s²) and log weights of an error model."""

    var_core: np.ndarray
    var_tail: np.ndarray
    log_core: float
    log_tail: float

    @classmethod
    def of(cls, sigma: np.ndarray, core: np.ndarray, model: ErrorModel) -> _Mixture:
        f = model.tail_fraction
        # Normal: −½ log(2π V); Cauchy: −log(π s). Kept in the weights so that the
        # per-epoch terms below need one log each.
        return cls((core * sigma) ** 2, (model.tail_scale * sigma) ** 2,
                   float(np.log1p(-f) - 0.5 * np.log(2.0 * np.pi)), float(np.log(f / np.pi)))

    def terms(self, r2: np.ndarray, u: np.ndarray | float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per epoch at jitter variance ``u``: log density, posterior tail probability γ
        and the tail's latent precision weight λ = 2 / (1 + r²/s²) (Cauchy as a scale
        mixture of normals)."""
        vc, vt = self.var_core + u, self.var_tail + u
        q = r2 / vt
        a = self.log_core - 0.5 * (np.log(vc) + r2 / vc)
        b = self.log_tail - 0.5 * np.log(vt) - np.log1p(q)
        # log(e^a + e^b) and e^b / (e^a + e^b) without np.logaddexp / expit (both slow).
        d = b - a
        e = np.exp(-np.abs(d))
        return (np.maximum(a, b) + np.log1p(e), np.where(d > 0, 1.0, e) / (1.0 + e),
                2.0 / (1.0 + q))

    def loglik(self, r2: np.ndarray, u: np.ndarray | float) -> np.ndarray:
        """Per-epoch log density only (the first output of :meth:`terms`)."""
        vc, vt = self.var_core + u, self.var_tail + u
        a = self.log_core - 0.5 * (np.log(vc) + r2 / vc)
        b = self.log_tail - 0.5 * np.log(vt) - np.log1p(r2 / vt)
        return np.maximum(a, b) + np.log1p(np.exp(-np.abs(b - a)))

    def subset(self, epochs: np.ndarray) -> _Mixture:
        return _Mixture(self.var_core[epochs], self.var_tail[epochs], self.log_core,
                        self.log_tail)


def _fit_mean(v: np.ndarray, mix: _Mixture, seg: Segments, mu: np.ndarray,
              u: np.ndarray | float, steps: int, loglik: bool = True
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """EM steps for each star's μ at jitter variance ``u``.

    Returns
    -------
    mu : ndarray
        Per star, km/s.
    loglik : ndarray or None
        Per star, ℓ(μ, u); None unless ``loglik``.
    rho : ndarray
        Per epoch, the EM weight (1 − γ)/V_core + γ λ/s² of the last step.
    """
    rho = np.zeros(v.size)
    for _ in range(steps):
        _, g, lam = mix.terms((v - seg.spread(mu)) ** 2, u)
        rho = (1.0 - g) / (mix.var_core + u) + g * lam / (mix.var_tail + u)
        mu = seg.sum(rho * v) / seg.sum(rho)
    if not loglik:
        return mu, None, rho
    return mu, seg.sum(mix.loglik((v - seg.spread(mu)) ** 2, u)), rho


@dataclass(frozen=True)
class LikelihoodRatio:
    """Per star: the robust mean, the likelihood ratio and the fitted alternative.

    Attributes
    ----------
    mu : ndarray
        μ under H0 (constant star, J = J₀), km/s.
    lr : ndarray
        Λ ≥ 0, the larger of the two alternatives' ratios.
    jitter : ndarray
        J at the maximum of the jitter alternative, km/s (J₀ where its Λ = 0).
    tail_weight : ndarray
        The star's own tail weight at the maximum of the excess-tail alternative (f
        where its Λ = 0).
    """

    mu: np.ndarray
    lr: np.ndarray
    jitter: np.ndarray
    tail_weight: np.ndarray


def likelihood_ratio(v: np.ndarray, sigma: np.ndarray, core: np.ndarray, seg: Segments,
                     model: ErrorModel, tolerance: float = TOLERANCE,
                     refine_above: float = REFINE_ABOVE) -> LikelihoodRatio:
    """Λ of "variable" against "constant" for every star (module docstring).

    Parameters
    ----------
    v, sigma, core : ndarray, per epoch (sorted by star)
        RV (km/s), σ_RV(S/N) (km/s) and the core scale c_b of its S/N.
    seg : Segments
        The stars' epochs.
    model : ErrorModel
    tolerance : float
        τ: a constant star's jitter is at most τ times its RMS core σ.
    refine_above : float
        Stars whose grid Λ exceeds this get the refined search in log J.

    Returns
    -------
    LikelihoodRatio
    """
    mix = _Mixture.of(sigma, core, model)
    scale = np.sqrt(seg.sum(mix.var_core) / seg.counts)
    j0 = tolerance * scale
    u0 = seg.spread(j0 * j0) if tolerance > 0 else 0.0
    mu = _start_mean(v, 1.0 / mix.var_core, seg)
    mu, ll0, _ = _fit_mean(v, mix, seg, mu, u0, 6)
    best = np.zeros(seg.starts.size)
    best_j = j0.copy()
    r2 = (v - seg.spread(mu)) ** 2
    for g in JITTER_GRID[JITTER_GRID > tolerance]:
        j = g * scale
        lam = 2.0 * (seg.sum(mix.loglik(r2, seg.spread(j * j))) - ll0)
        better = lam > best
        best = np.where(better, lam, best)
        best_j = np.where(better, j, best_j)
    todo = np.flatnonzero(best > max(refine_above, 0.0))
    if todo.size:
        lam, j = _refine(v, mix, seg, mu, ll0, best_j, np.maximum(j0, 1e-9), todo)
        up = lam > best[todo]
        best[todo[up]] = lam[up]
        best_j[todo[up]] = j[up]
    lam_tail, weight = _excess_tail(r2, mix, u0, seg, model.tail_fraction)
    return LikelihoodRatio(mu, np.maximum(best, lam_tail), best_j, weight)


def _excess_tail(r2: np.ndarray, mix: _Mixture, u0: np.ndarray | float, seg: Segments,
                 f: float, iterations: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Λ of the excess-tail alternative: the star's own tail weight f_i ≥ f (EM over
    f_i at μ, J₀ of H0; the log-likelihood is concave in f_i), and the fitted f_i."""
    vc, vt = mix.var_core + u0, mix.var_tail + u0
    a = -0.5 * (np.log(2.0 * np.pi * vc) + r2 / vc)
    b = -0.5 * np.log(vt) - np.log1p(r2 / vt) - np.log(np.pi)
    top = np.maximum(a, b)
    pa, pb = np.exp(a - top), np.exp(b - top)
    fi = np.full(seg.starts.size, f)
    for _ in range(iterations):
        fe = seg.spread(fi)
        fi = np.maximum(seg.sum(fe * pb / ((1.0 - fe) * pa + fe * pb)) / seg.counts, f)
    fe = seg.spread(fi)
    gain = seg.sum(np.log(((1.0 - fe) * pa + fe * pb) / ((1.0 - f) * pa + f * pb)))
    return np.maximum(2.0 * gain, 0.0), fi


def _start_mean(v: np.ndarray, w: np.ndarray, seg: Segments) -> np.ndarray:
    """Each star's weighted median (the EM start; a plain median row by row when every
    star has the same number of epochs and all weights are equal, as in the null)."""
    n = seg.starts.size
    if n and seg.counts.min() == seg.counts.max() and np.all(w == w[0]):
        rows = v.reshape(n, int(seg.counts[0]))
        k = (rows.shape[1] - 1) // 2  # the lower median, as weighted_median's
        return np.partition(rows, k, axis=1)[:, k]
    return weighted_median(seg.spread(np.arange(n)), v, w, n)


def _refine(v: np.ndarray, mix: _Mixture, seg: Segments, mu0: np.ndarray, ll0: np.ndarray,
            j_best: np.ndarray, j_min: np.ndarray, stars: np.ndarray, iterations: int = 14
            ) -> tuple[np.ndarray, np.ndarray]:
    """Golden-section search of Λ in log J ∈ [J/2, 2J] (the grid's neighbours; not below
    ``j_min``) for the stars ``stars``, with μ re-estimated by two EM steps from the H0
    value at every J."""
    sub, epochs = seg.take(stars)
    vs, ms, m0, l0 = v[epochs], mix.subset(epochs), mu0[stars], ll0[stars]

    def lam(log_j: np.ndarray) -> np.ndarray:
        u = sub.spread(np.exp(2.0 * log_j))
        _, ll, _ = _fit_mean(vs, ms, sub, m0, u, 2)
        return 2.0 * (ll - l0)

    centre = np.log(j_best[stars])
    lo = np.maximum(centre - np.log(2.0), np.log(j_min[stars]))
    hi = centre + np.log(2.0)
    phi = 0.5 * (np.sqrt(5.0) - 1.0)
    x1, x2 = hi - phi * (hi - lo), lo + phi * (hi - lo)
    f1, f2 = lam(x1), lam(x2)
    for _ in range(iterations):
        left = f1 > f2  # the maximum lies in [lo, x2]
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        x1n, x2n = hi - phi * (hi - lo), lo + phi * (hi - lo)
        f_new = lam(np.where(left, x1n, x2n))  # one new point per star, the other kept
        f1, f2 = np.where(left, f_new, f2), np.where(left, f1, f_new)
        x1, x2 = np.where(left, x1n, x2), np.where(left, x1, x2n)
    pick = f1 > f2
    return np.where(pick, f1, f2), np.exp(np.where(pick, x1, x2))


def fit_sample(seg: Segments, use: np.ndarray | None = None,
               max_epochs: int = FIT_EPOCHS) -> np.ndarray:
    """Stars the error model is fitted on.

    Stars with many epochs tell tail errors (single epochs) from variability (many), so
    the stars of ``use`` (default all) with at least :data:`RICH_EPOCHS` epochs are taken
    when they have :data:`MIN_RICH_EPOCHS` epochs in all, else all with at least
    :data:`MIN_FIT_EPOCHS`; every k-th of them beyond ``max_epochs`` epochs.
    """
    ok = np.ones(seg.counts.size, dtype=bool) if use is None else np.asarray(use, bool)
    rich = ok & (seg.counts >= RICH_EPOCHS)
    if seg.counts[rich].sum() >= MIN_RICH_EPOCHS:
        ok = rich
    stars = np.flatnonzero(ok & (seg.counts >= MIN_FIT_EPOCHS))
    total = int(seg.counts[stars].sum())
    if total > max_epochs:  # every k-th star: a deterministic, even subsample
        stars = stars[:: int(np.ceil(total / max_epochs))]
    return stars


def fit_error_model(v: np.ndarray, sigma: np.ndarray, snr: np.ndarray, seg: Segments,
                    use: np.ndarray | None = None, iterations: int = 30,
                    start: ErrorModel | None = None) -> ErrorModel:
    """Maximum-likelihood (EM) core + tail mixture of the standardised residuals.

    Parameters
    ----------
    v, sigma, snr : ndarray, per epoch (sorted by star)
        RV and σ_RV(S/N) (km/s), S/N.
    seg : Segments
    use : ndarray of bool, per star, optional
        Stars to fit (default: all); only those with at least :data:`MIN_FIT_EPOCHS`
        epochs count.
    iterations : int
        EM iterations (each also moves every star's μ by one EM step).
    start : ErrorModel, optional
        Starting values.

    Returns
    -------
    ErrorModel
        Residuals are scaled by 1/sqrt(1 − h_k) with h_k the epoch's weight share in its
        star's mean, so that the fitted scales are those of single epochs (as Eq. 3).
    """
    model = start or ErrorModel()
    ok = seg.counts >= MIN_FIT_EPOCHS
    stars = np.flatnonzero(ok if use is None else ok & use)
    if stars.size == 0:
        return model
    sub, epochs = seg.take(stars)
    v, sigma, snr = v[epochs], sigma[epochs], snr[epochs]
    nb = len(model.snr_edges) - 1
    b = np.clip(np.searchsorted(model.snr_edges, snr, side="right") - 1, 0, nb - 1)
    mu = _start_mean(v, 1.0 / sigma**2, sub)
    for _ in range(iterations):
        mix = _Mixture.of(sigma, np.asarray(model.core_scale)[b], model)
        mu, _, rho = _fit_mean(v, mix, sub, mu, 0.0, 1, loglik=False)
        lev = rho / sub.spread(sub.sum(rho))
        z2 = (v - sub.spread(mu)) ** 2 / (sigma**2 * np.clip(1.0 - lev, 0.05, 1.0))
        model = _m_step(z2, b, nb, model)
    return ErrorModel(model.snr_edges, model.core_scale, model.tail_fraction,
                      model.tail_scale, int(v.size), int(sub.starts.size))


def _m_step(z2: np.ndarray, b: np.ndarray, nb: int, model: ErrorModel) -> ErrorModel:
    """One EM update of (c_b, f, t) from squared standardised residuals ``z2``."""
    core = np.asarray(model.core_scale)
    mix = _Mixture.of(np.ones(z2.size), core[b], model)
    _, g, lam = mix.terms(z2, 0.0)
    w_core = 1.0 - g
    n_b = np.bincount(b, w_core, nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        c2 = np.bincount(b, w_core * z2, nb) / n_b
    new_core = np.where(n_b > 20, np.sqrt(c2), core)
    f = float(np.clip(g.mean(), 1e-4, 0.5))
    t = float(np.sqrt((g * lam * z2).sum() / max(g.sum(), 1e-12)))
    t = max(t, 1.5 * float(new_core.max()))  # keep the tail broader than the core
    return ErrorModel(model.snr_edges, tuple(float(c) for c in new_core), f, t,
                      model.n_epochs, model.n_stars)


#: Stars with p below this in a pass are left out of the refitted error model ...
CLEAN_P = 0.01
#: ... in this many passes.
CLEAN_ROUNDS = 2


@dataclass(frozen=True)
class RobustTest:
    """The robust test of every star (arrays per star of the segments).

    Attributes
    ----------
    model : ErrorModel
        The fitted error model.
    tolerance : float
        τ of the constant-star hypothesis.
    mu, lr, jitter, tail_weight : ndarray
        See :class:`LikelihoodRatio` (km/s; Λ; km/s; share).
    p : ndarray
        P(Λ ≥ observed | constant), :func:`p_values`.
    """

    model: ErrorModel
    tolerance: float
    mu: np.ndarray
    lr: np.ndarray
    jitter: np.ndarray
    tail_weight: np.ndarray
    p: np.ndarray


def robust_test(v: np.ndarray, sigma: np.ndarray, snr: np.ndarray, seg: Segments,
                model: ErrorModel | None = None, tolerance: float = TOLERANCE
                ) -> RobustTest:
    """Fit the error model (unless given) and test every star.

    The fit runs on :func:`fit_sample`'s stars; those of them a pass flags at
    p < :data:`CLEAN_P` (asymptotic p) are dropped and the model refitted, twice
    (:data:`CLEAN_ROUNDS`), before the final test.

    Parameters
    ----------
    v, sigma, snr : ndarray, per epoch (sorted by star)
        RV (km/s), σ_RV(S/N) (km/s) and S/N.
    seg : Segments
        The stars (each with at least 2 epochs).
    model : ErrorModel, optional
        Use this model instead of fitting one.
    tolerance : float
        τ of the constant-star hypothesis (module docstring).

    Returns
    -------
    RobustTest
    """
    if model is None:
        sub, ep = seg.take(fit_sample(seg))
        vs, ss, ns = v[ep], sigma[ep], snr[ep]
        model = fit_error_model(vs, ss, ns, sub)
        for _ in range(CLEAN_ROUNDS):
            first = likelihood_ratio(vs, ss, model.core_at(ns), sub, model, tolerance)
            # The asymptotic p (no Monte Carlo) is good enough to pick the stars to drop.
            clean = first.lr <= _asymptotic_threshold(CLEAN_P)
            model = fit_error_model(vs, ss, ns, sub, use=clean, iterations=15, start=model)
    lr = likelihood_ratio(v, sigma, model.core_at(snr), seg, model, tolerance)
    p = p_values(lr.lr, seg.counts, model, tolerance)
    return RobustTest(model, tolerance, lr.mu, lr.lr, lr.jitter, lr.tail_weight, p)


def _asymptotic_threshold(alpha: float) -> float:
    """Λ with P(χ²₁ ≥ Λ) = ``alpha`` (the asymptotic p of :func:`p_values`)."""
    from scipy.special import chdtri  # inverse χ² survival function (scipy.stats' isf)

    return float(chdtri(1, alpha))


def _rounded(x: float, step: float = 0.02) -> float:
    """``x`` on a grid of ``step`` in log10 (±2.3 %): the key of the null-distribution
    cache, so that realizations of a forecast share their Monte Carlo nulls."""
    return float(10.0 ** (step * np.round(np.log10(x) / step)))


def null_distribution(model: ErrorModel, n_epochs: int, tolerance: float = TOLERANCE,
                      draws: int = NULL_DRAWS) -> np.ndarray:
    """Sorted Λ of ``draws`` stars of ``n_epochs`` equal-σ epochs with jitter J₀.

    The standardised model (core σ 1, tail scale t/c, weight f, τ) is what matters; f and
    t/c are rounded to a 0.02-dex grid (:func:`_rounded`) and the result is cached.
    """
    return _null_cached(_rounded(model.tail_fraction), _rounded(model.tail_to_core),
                        float(tolerance), int(n_epochs), int(draws))


@lru_cache(maxsize=256)
def _null_cached(f: float, t: float, tolerance: float, n_epochs: int, draws: int
                 ) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence([20201, n_epochs, draws]))
    size = draws * n_epochs
    tail = rng.random(size) < f
    z = rng.standard_normal(size)
    cauchy = rng.standard_cauchy(size)
    tau2 = tolerance**2
    v = np.where(tail, np.sqrt(t * t + tau2) * cauchy, np.sqrt(1.0 + tau2) * z)
    model = ErrorModel(core_scale=(1.0,) * (len(SNR_EDGES) - 1), tail_fraction=f,
                       tail_scale=t)
    seg = Segments(np.arange(draws) * n_epochs, np.full(draws, n_epochs))
    ones = np.ones(size)
    return np.sort(likelihood_ratio(v, ones, ones, seg, model, tolerance).lr)


def p_values(lr: np.ndarray, n: np.ndarray, model: ErrorModel,
             tolerance: float = TOLERANCE) -> np.ndarray:
    """P(Λ ≥ observed | constant star, J = J₀) per star (module docstring).

    Parameters
    ----------
    lr : ndarray
        Λ per star.
    n : ndarray of int
        Epochs per star (≥ 2).
    model : ErrorModel
    tolerance : float
        τ of the constant-star hypothesis.

    Returns
    -------
    ndarray
        p in (0, 1]; 1 where Λ = 0. Monte Carlo p-values are (1 + #null ≥ Λ)/(1 + draws),
        so none is below 1/(1 + :data:`NULL_DRAWS`).
    """
    from scipy.special import chdtrc  # χ² survival function (scipy.stats' sf, faster import)

    p = np.ones(lr.size)
    pos = lr > 0
    big = pos & (n > N_MONTE_CARLO)
    # The larger of two one-sided ratios, each ½χ²₀ + ½χ²₁: p ≤ 2 · ½ P(χ²₁ ≥ Λ).
    p[big] = np.minimum(chdtrc(1, lr[big]), 1.0)
    for k in np.unique(n[pos & ~big]).tolist():
        sel = pos & (n == k)
        null = null_distribution(model, k, tolerance)
        above = null.size - np.searchsorted(null, lr[sel], side="left")
        p[sel] = (1.0 + above) / (1.0 + null.size)
    return p


def threshold(model: ErrorModel, n: int, alpha: float, tolerance: float = TOLERANCE
              ) -> float:
    """Λ above which a star of ``n`` epochs has p < ``alpha``."""
    if n > N_MONTE_CARLO:
        return _asymptotic_threshold(alpha)
    null = null_distribution(model, n, tolerance)
    k = int(np.ceil((1.0 - alpha) * (null.size + 1))) - 1
    return float(null[min(max(k, 0), null.size - 1)])
