"""Maximum-likelihood fitting shared by BG/NBD and Gamma-Gamma.

Both models are fitted with scipy.optimize on log parameters (L-BFGS-B; for many customers,
BFGS from the optimum of a sample, see :func:`maximize_likelihood`), with analytic gradients.
A fit that does not converge or ends at a bound is reported in :attr:`FitOutcome.problems`,
never used silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from retain_cli.errors import RetainError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float64]


#: from this many customers on, fits start from the optimum of a sample of about this size
WARM_START_FROM = 60_000
WARM_START_SAMPLE = 20_000
#: parameters are optimised as logs within +-LOG_BOUND; a shape parameter beyond
#: +-EXTREME_LOG (1e-5 .. 1e5) makes a fit untrusted
LOG_BOUND = 15.0
EXTREME_LOG = 11.5


class FitError(RetainError):
    """A model could not be fitted (the optimizer failed or the data cannot identify it)."""


@dataclass
class FitOutcome:
    """What an optimizer run gave: the parameters, the log-likelihood and any problems."""

    params: Any
    log_likelihood: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def warm_start_sample(n: int) -> slice | None:
    """For many customers, a regular sample (every k-th) to fit first (see
    :func:`maximize_likelihood`)."""
    if n < WARM_START_FROM:
        return None
    return slice(None, None, n // WARM_START_SAMPLE)


def maximize_likelihood(
    objective: Any, start: Array, data: Any, sample: Any | None
) -> tuple[Array, float, list[str]]:
    """Maximise a likelihood; returns (log parameters, total log-likelihood, problems).

    ``objective(theta, data)`` gives the mean negative log-likelihood and its gradient. With
    a ``sample`` of the data (many customers), the sample is fitted first; from its optimum,
    BFGS on all the data, seeded with the sample's inverse Hessian (the curvature of a mean
    hardly depends on the sample), converges in a few evaluations instead of fifteen or so.
    """
    import numpy as np

    if sample is not None:
        theta, _, problems = _minimize(objective, start, (sample,), n=1)
        hessian = _hessian(objective, theta, sample)
        if (
            not problems
            and np.all(np.isfinite(hessian))
            and np.all(np.linalg.eigvalsh(hessian) > 0)
        ):
            inverse = np.linalg.inv(hessian)
            symmetric: Array = np.asarray((inverse + inverse.T) / 2, dtype=np.float64)
            return _minimize(objective, theta, (data,), n=data.n, hess_inv=symmetric)
    return _minimize(objective, start, (data,), n=data.n)


def _hessian(objective: Any, theta: Array, data: Any, step: float = 1e-4) -> Array:
    """The Hessian of ``objective`` at ``theta``, by central differences of its gradient."""
    import numpy as np

    k = len(theta)
    hessian = np.empty((k, k))
    for i in range(k):
        shift = np.zeros(k)
        shift[i] = step
        hessian[:, i] = (objective(theta + shift, data)[1] - objective(theta - shift, data)[1]) / (
            2 * step
        )
    return np.asarray((hessian + hessian.T) / 2, dtype=np.float64)


def _minimize(
    objective: Any,
    start: Array,
    args: tuple[Any, ...],
    *,
    n: float,
    hess_inv: Array | None = None,
) -> tuple[Array, float, list[str]]:
    """Minimise a mean negative log-likelihood: BFGS when an inverse Hessian to start from is
    given, else (or if that fails) L-BFGS-B. Returns (theta, total LL, problems)."""
    import numpy as np
    from scipy.optimize import minimize

    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        result = None
        if hess_inv is not None:
            result = minimize(
                objective,
                start,
                args=args,
                jac=True,
                method="BFGS",
                options={"hess_inv0": hess_inv, "gtol": 1e-9, "maxiter": 200},
            )
            if not (result.success or _gradient_small(result)) or np.any(
                np.abs(result.x) > LOG_BOUND
            ):
                result = None
        if result is None:
            result = minimize(
                objective,
                start,
                args=args,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-9},
            )
        if not result.success:  # polish from where it stopped; a rounding-limited stop is fine
            result = minimize(
                objective,
                result.x,
                args=args,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-7},
            )
    theta = np.asarray(result.x, dtype=np.float64)
    problems: list[str] = []
    if not np.isfinite(result.fun):
        problems.append("the log-likelihood is not finite")
    elif not (result.success or _gradient_small(result)):
        problems.append(f"the optimizer did not converge ({result.message})")
    if np.any(np.abs(theta) > LOG_BOUND - 0.05):
        problems.append("a parameter ended at its bound (the data cannot pin it down)")
    return theta, -float(result.fun) * n, problems


def extremes(theta: Array, *, shape: list[bool]) -> list[str]:
    """A problem when a shape parameter (not a time or money scale) is below 1e-5 or above
    1e5: the likelihood is flat there and the data cannot pin the model down."""
    import numpy as np

    if np.any((np.abs(theta) > EXTREME_LOG) & np.array(shape)) and not np.any(
        np.abs(theta) > LOG_BOUND - 0.05
    ):
        return [
            "a parameter went to an extreme (below 1e-5 or above 1e5): the data cannot pin it "
            "down (for example, nobody seems to stop buying)"
        ]
    return []


def _gradient_small(result: Any) -> bool:
    import numpy as np

    return bool(np.all(np.isfinite(result.jac)) and np.max(np.abs(result.jac)) < 1e-5)
