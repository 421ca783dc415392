"""BG/NBD purchase model (Fader, Hardie and Lee 2005, "Counting your customers the easy way").

While active, a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after each repeat
purchase they leave for good with probability p ~ Beta(a, b). The MBG/NBD variant
(kit.clv.mbgnbd) also lets a customer leave right after the first purchase; the two share
everything below through ``shift`` (0 for BG/NBD, 1 for MBG/NBD): in MBG/NBD a customer
with x repeat purchases has survived x + 1 coin flips instead of x.

We write these models by hand on purpose: the well-kept library (PyMC-Marketing) needs a
compiler toolchain and about 800 MB, and its MAP fit is several times slower at a
million customers. The log-likelihood is computed in log space (gammaln, logaddexp) with an
analytic gradient, on collapsed rows; the hypergeometric terms of the predictions use the
Euler transformation so that no power of a large purchase count is ever formed.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import digamma, gammaln, hyp2f1

from kit.clv.base import CountData, CountModel


class BetaGeoModel(CountModel):
    """BG/NBD: parameters r, alpha (purchase rate) and a, b (dropout after each purchase)."""

    name: ClassVar[str] = "bgnbd"
    label: ClassVar[str] = "BG/NBD"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    time_params: ClassVar[tuple[str, ...]] = ("alpha",)
    analytic_gradient: ClassVar[bool] = True
    shift: ClassVar[int] = 0

    def _start(self, data: CountData) -> np.ndarray:
        rate = np.average(data.x, weights=data.weight) / max(np.average(data.T, weights=data.weight), 1e-9)
        return np.array([1.0, 1.0 / max(rate, 1e-6), 1.0, 3.0])

    def _terms(self, params: np.ndarray, data: CountData):
        """Log-likelihood pieces shared by the value and the gradient. Everything that
        depends on x, t_x or T alone is computed once per distinct value, then gathered."""
        r, alpha, a, b = params
        k = self.shift
        ux = data.ux
        can_leave_u = (ux > 0) | (k == 1)  # the "left after the last purchase" branch exists
        denom_u = np.where(can_leave_u, b + ux + k - 1, 1.0)
        per_x = gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
        per_x += gammaln(a + b) + gammaln(b + ux + k) - gammaln(b) - gammaln(a + b + ux + k)
        left_x = np.where(can_leave_u, np.log(a) - np.log(denom_u), -np.inf)
        rx = (r + ux)[data.cx]
        log_alive = -rx * np.log(alpha + data.uT)[data.cT]
        log_left = left_x[data.cx] - rx * np.log(alpha + data.ut)[data.ct]
        # logaddexp and the two branch weights from a single exp
        diff = log_left - log_alive
        small = np.exp(-np.abs(diff))
        both = np.maximum(log_alive, log_left) + np.log1p(small)
        w_left = np.where(diff > 0, 1.0, small) / (1.0 + small)
        return per_x[data.cx] + both, 1.0 - w_left, w_left, denom_u, rx

    def _loglik_rows(self, params: np.ndarray, data: CountData) -> np.ndarray:
        return self._terms(params, data)[0]

    def _mean_negll(self, theta: np.ndarray, data: CountData):
        params = np.exp(theta)
        r, alpha, a, b = params
        k, w, ux = self.shift, data.weight, data.ux
        ll, w_alive, w_left, denom_u, rx = self._terms(params, data)
        weight_x = np.bincount(data.cx, weights=w, minlength=len(ux))  # customers per distinct x
        wa, wl = w * w_alive, w * w_left
        d_r = weight_x @ (digamma(r + ux) - digamma(r)) + data.n * np.log(alpha)
        d_r -= wa @ np.log(alpha + data.uT)[data.cT] + wl @ np.log(alpha + data.ut)[data.ct]
        d_alpha = data.n * r / alpha - (wa * rx) @ (1 / (alpha + data.uT))[data.cT] - (wl * rx) @ (1 / (alpha + data.ut))[data.ct]
        left_x = np.bincount(data.cx, weights=wl, minlength=len(ux))  # weight of the "left" branch per x
        d_a = weight_x @ (digamma(a + b) - digamma(a + b + ux + k)) + left_x.sum() / a
        d_b = weight_x @ (digamma(a + b) + digamma(b + ux + k) - digamma(b) - digamma(a + b + ux + k)) - left_x @ (1 / denom_u)
        grad = np.array([d_r, d_alpha, d_a, d_b]) * params
        return -float(w @ ll) / data.n, -grad / data.n

    # ----------------------------------------------------------------- predictions
    def _odds_left(self, x, t_x, T):
        """Odds that the customer has left rather than still being active at T."""
        r, alpha, a, b = self._fitted().values
        k = self.shift
        can_leave = (x > 0) | (k == 1)
        log_odds = np.log(a) - np.log(np.where(can_leave, b + x + k - 1, 1.0)) + (r + x) * (
            np.log(alpha + T) - np.log(alpha + t_x)
        )
        return np.where(can_leave, np.exp(log_odds), 0.0)

    def _growth(self, t, x, T):
        """(a+b+x+k-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+k; a+b+x+k-1; z)].

        Written with Euler's transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A,C-B;C;z),
        which turns the factor into (1-z)^(a-1) 2F1(a+b+k-1-r, a-1; a+b+x+k-1; z): no huge
        powers for frequent buyers.
        """
        r, alpha, a, b = self._fitted().values
        k = self.shift
        z = t / (alpha + T + t)
        c = a + b + x + k - 1
        return c / (a - 1) * (1 - (1 - z) ** (a - 1) * hyp2f1(a + b + k - 1 - r, a - 1, c, z))

    def expected_purchases(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        a, b = self._fitted().values[2:]
        zero = np.zeros_like(t)
        # alive after the first purchase with probability 1 (BG) or b/(a+b) (MBG)
        share = 1.0 if self.shift == 0 else b / (a + b)
        return share * self._growth(t, zero, zero)

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        return 1.0 / (1.0 + self._odds_left(x, t_x, T))

    def conditional_expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        return self._growth(np.asarray(t, dtype=float), x, T) * self.p_alive(x, t_x, T)
