r"""Checks for a student's own GMM code: one ``check_*`` per task of the starter notebook.

Each check runs the student's function on several small problems, including the
hard ones (a point 40σ from every component, a nearly empty component, D = 1,
D = 3, K = 1), compares the answers with independent NumPy references written
here (not with the package's own arithmetic) using tolerances and invariants,
and prints a short report. It returns a :class:`CheckResult` (``bool(result)``
is ``result.passed``) and never raises: an exception in the student's code, a
wrong shape or a function that never returns becomes a diagnosis.

When an answer is wrong, the check compares it with what each classic mistake
would give on the same problem (the problems are built so that the mistakes
give different numbers), and names the mistake with a hint.

| check | student function | returns |
|---|---|---|
| :func:`check_log_gaussian_pdf` | ``f(X, mean, cov)`` | ``(N,)`` log-densities |
| :func:`check_logsumexp` | ``f(a, axis)`` | log-sum-exp along ``axis`` |
| :func:`check_e_step` | ``f(X, weights, means, covariances)`` | ``(resp (N, K), total log-lik)`` |
| :func:`check_m_step` | ``f(X, responsibilities, reg_covar=1e-6)`` | ``(weights, means, covs)`` |
| :func:`check_em` | ``f(X, weights, means, covariances, max_iter, tol)`` | ``(history, lls)`` |
| :func:`check_ellipse` | ``f(mean, cov, ax, n_std=2.0)`` | the ``Ellipse`` it added |

Time limit
----------
Every call of a student function gets a time limit (``time_limit`` seconds). On
POSIX, in the main thread (where a Jupyter kernel runs a cell), it is a
``SIGALRM`` timer: the alarm raises inside the student's code, so a loop that
ignores ``max_iter`` is really stopped and the kernel stays usable. The alarm
repeats every 0.01 s after the limit, so a bare ``except:`` in the loop, which
swallows one of them, does not keep it running. Elsewhere
(Windows, or a check called from another thread) the function runs in a daemon
thread that is abandoned after the limit: the check still reports the hang, but
the abandoned thread keeps running until the function ends (Python cannot kill a
thread). ``check_ellipse`` imports matplotlib when it is called; the module
itself needs NumPy only.

Precision
---------
The tolerances quoted by each check are for float64 answers. An answer computed in
float32 (or float16) is right to about 1e-7 only, so it is compared within a
relative 1e-4 instead: code written in float32 is judged on its formulas.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import textwrap
import threading
import time
import traceback
import warnings

import numpy as np

__all__ = [
    "CheckResult",
    "check_e_step",
    "check_ellipse",
    "check_em",
    "check_log_gaussian_pdf",
    "check_logsumexp",
    "check_m_step",
]

_LOG_2PI = math.log(2.0 * math.pi)
# frames in these folders are NumPy's, matplotlib's or Python's, not the student's
_LIBRARY_DIRS = tuple(
    {os.path.dirname(np.__file__), os.path.dirname(os.__file__)}
    | {os.path.abspath(p) for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
)
_THIS_FILE = os.path.abspath(__file__)
_ALARM_REPEAT = 0.01  # seconds between alarms once the time limit has passed


# --------------------------------------------------------------------------- result


class CheckResult:
    """What a check found.

    Attributes
    ----------
    name : str
        The check's name, e.g. ``"check_e_step"``.
    passed : bool
        True when every problem gave the right answer; ``bool(result)`` is the same.
    status : str
        ``"passed"``, ``"failed"``, ``"not implemented"`` or ``"timeout"``.
    messages : list of str
        The report, one entry per finding (what was verified, or the diagnosis
        and the hint).
    """

    def __init__(self, name, status, messages):
        self.name = name
        self.status = status
        self.passed = status == "passed"
        self.messages = list(messages)

    def __bool__(self):
        return self.passed

    def report(self):
        """The printed report: a headline, then one indented line per message."""
        head = {
            "passed": "PASSED",
            "failed": "FAILED",
            "not implemented": "not implemented yet",
            "timeout": "FAILED (time limit)",
        }[self.status]
        lines = [f"{self.name}: {head}"]
        for message in self.messages:
            lines.append(textwrap.fill(message, width=88, initial_indent="  ",
                                       subsequent_indent="    ", break_on_hyphens=False))
        return "\n".join(lines)

    def __repr__(self):
        return f"<CheckResult {self.name}: {self.status}>"


class _Finding(Exception):
    """Raised inside a check to stop at the first wrong answer, with its diagnosis."""

    def __init__(self, status, *messages):
        super().__init__(messages[0] if messages else status)
        self.status = status
        self.messages = list(messages)


def _fail(*messages):
    raise _Finding("failed", *messages)


class _Timeout(BaseException):
    """Raised by the alarm inside the student's code (BaseException: `except Exception`
    in the student's loop does not swallow it)."""


def _run_check(name, body):
    """Run a check body, print the report and return a CheckResult; never raise."""
    try:
        messages = body()
        result = CheckResult(name, "passed", messages)
    except _Finding as finding:
        result = CheckResult(name, finding.status, finding.messages)
    except Exception as exc:  # a bug in the check itself: say so, do not blame the student
        result = CheckResult(
            name,
            "failed",
            [
                f"the check itself crashed ({type(exc).__name__}: {exc}); your function may "
                "return something unexpected: compare its return value with the table above"
            ],
        )
    print(result.report())
    return result


# --------------------------------------------------------------------------- calling


def _run_with_time_limit(fn, time_limit):
    """Return ``fn()``, or raise :class:`_Timeout` after ``time_limit`` seconds."""
    use_alarm = (
        hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    )
    if use_alarm:

        def on_alarm(signum, frame):
            # not in this module's own frames (the cleanup below, or `run` after f returned)
            if frame is None or os.path.abspath(frame.f_code.co_filename) != _THIS_FILE:
                raise _Timeout()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        started = time.monotonic()
        # the alarm repeats: a bare `except:` in the student's loop swallows one _Timeout,
        # but not all of them (one lands outside the `try`)
        outer_delay, outer_interval = signal.setitimer(
            signal.ITIMER_REAL, time_limit, _ALARM_REPEAT
        )
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
            if outer_delay > 0:  # someone else's timer was running: give it back what is left
                left = max(outer_delay - (time.monotonic() - started), 1e-3)
                signal.setitimer(signal.ITIMER_REAL, left, outer_interval)
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the calling thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="gmm_helpers.checks")
    thread.start()
    thread.join(time_limit)
    if thread.is_alive():
        raise _Timeout()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _where(exc):
    """' (line 7 of e_step: `r = p / p.sum(0)`)' for the innermost frame of the student's code."""
    frames = [
        fr
        for fr in traceback.extract_tb(exc.__traceback__)
        if not os.path.abspath(fr.filename).startswith(_LIBRARY_DIRS)
        and os.path.abspath(fr.filename) != _THIS_FILE
    ]
    if not frames:
        return ""
    fr = frames[-1]
    code = f": `{fr.line.strip()}`" if fr.line else ""
    return f" (line {fr.lineno} of {fr.name}{code})"


_EXCEPTION_HINTS = {
    "LinAlgError": "a matrix your code factorises or inverts is singular or not "
    "positive-definite; check which covariance you pass, and that reg_covar is added",
    "ValueError": "often a shape mismatch: X is (N, D), mean (D,), cov (D, D), "
    "responsibilities (N, K); print the shapes of the arrays in that line",
    "IndexError": "an index runs past an array's end: check the loop bounds against "
    "N, K and D (the problems include D = 1, D = 3 and K = 1)",
    "TypeError": "check the signature against the table (argument order and names), "
    "and that you return what it says",
    "ZeroDivisionError": "a Python division by zero: use NumPy arrays, and check the "
    "divisor (the problems include a nearly empty component)",
    "RecursionError": "a function that calls itself without end: check that it calls the "
    "function it should (e.g. e_step calls log_gaussian_pdf, not e_step) and that a "
    "recursion has a case that stops it",
}


def _call(f, args, kwargs, what, time_limit, problem=None):
    """Call the student's ``f`` on copies of the inputs, under a time limit.

    Returns f's value. Raises :class:`_Finding` for an exception, a time-out or an
    input changed in place (saying on which ``problem``).
    """
    on = f"On the problem '{problem}', " if problem else ""
    role = what
    name = getattr(f, "__name__", "")
    what = name if name.isidentifier() else what
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]

    def run():
        return f(*copies, **kwargs)

    try:
        # the context managers sit outside the timed call, so that an alarm can never land in
        # their __exit__ (which would leave the warnings filters changed for the session)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = _run_with_time_limit(run, time_limit)
    except NotImplementedError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        origin = frames[-1].name if frames else what
        who = what if origin in (what, "run", "target") else f"{origin} (called by {what})"
        raise _Finding(
            "not implemented",
            f"{who} raises NotImplementedError: replace `raise NotImplementedError()` "
            "with your code, then run this check again.",
        ) from None
    except _Timeout:
        raise _Finding(
            "timeout",
            f"{on}{what} did not return within {time_limit:g} s, and was stopped.",
            "Hint: a loop that never ends? An EM loop must stop after max_iter iterations "
            "even when it has not converged (`for t in range(max_iter):`)."
            if role == "em" else
            "Hint: a loop that never ends (a `while` whose condition stays true), or a "
            "wait (time.sleep, input, plt.pause)? These small problems take well under a "
            "second.",
        ) from None
    except Exception as exc:
        name = type(exc).__name__
        hint = _EXCEPTION_HINTS.get(name, "read the error and the line it points to")
        raise _Finding(
            "failed",
            f"{on}{what} raised {name}: {str(exc).strip()}{_where(exc)}.",
            f"Hint: {hint}.",
        ) from None
    for original, copy in zip(args, copies):
        if isinstance(original, np.ndarray) and (
            copy.shape != original.shape or not np.array_equal(copy, original, equal_nan=True)
        ):
            _fail(
                f"{on}{what} changed one of its input arrays in place.",
                "Hint: `X -= mean` or `cov += ...` modify the caller's array; write "
                "`diff = X - mean` (a new array) instead.",
            )
    return out


def _as_float_array(value, what):
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        _fail(f"{what} is not an array of numbers (got {type(value).__name__}).")
    return arr


# float32 (or float16) answers are right to about 1e-7: compare them to 1e-4, not to float64's
# tolerances, so that code written in float32 is judged on its formulas, not its precision
_LOW_PRECISION_RTOL = 1e-4


def _low_precision(*values):
    """True when one of ``values`` is a float array (or number) of less than 64 bits."""
    for value in values:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dtype = np.asarray(value).dtype
        except Exception:  # ragged or not numbers: the caller reports that
            continue
        if dtype.kind == "f" and dtype.itemsize < 8:
            return True
    return False


def _tol(base, low):
    """``base``, or the float32 tolerance when ``low``."""
    return max(base, _LOW_PRECISION_RTOL) if low else base


def _close(a, b, rtol, atol=0.0):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def _scaled_close(a, b, rtol):
    """Close relative to the size of b as a whole (for matrices with zero entries)."""
    if a.shape != b.shape or not np.all(np.isfinite(a)):
        return False
    return bool(np.max(np.abs(a - b), initial=0.0) <= rtol * max(np.max(np.abs(b)), 1e-300))


# --------------------------------------------------------------------------- references


def _ref_logsumexp(a, axis):
    a = np.asarray(a, dtype=float)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def _ref_log_pdf_terms(X, mean, cov):
    """(D log 2π, log det Σ, Mahalanobis² (N,)) by slogdet and solve."""
    d = X.shape[1]
    _, logdet = np.linalg.slogdet(cov)
    diff = X - mean
    maha = np.sum(diff * np.linalg.solve(cov, diff.T).T, axis=1)
    return d * _LOG_2PI, logdet, maha


def _ref_log_pdf(X, mean, cov):
    const, logdet, maha = _ref_log_pdf_terms(X, mean, cov)
    return -0.5 * (const + logdet + maha)


def _ref_log_joint(X, weights, means, covs, with_logdet=True, with_weights=True):
    """(N, K) matrix log π_k + log N(x_n | μ_k, Σ_k) (or a mistaken variant)."""
    cols = []
    for k in range(len(weights)):
        const, logdet, maha = _ref_log_pdf_terms(X, means[k], covs[k])
        log_pdf = -0.5 * (const + (logdet if with_logdet else 0.0) + maha)
        cols.append(log_pdf + (np.log(weights[k]) if with_weights else 0.0))
    return np.stack(cols, axis=1)


def _normalise(log_joint, axis=1):
    return np.exp(log_joint - np.expand_dims(_ref_logsumexp(log_joint, axis), axis))


def _ref_e_step(X, weights, means, covs):
    log_joint = _ref_log_joint(X, weights, means, covs)
    log_norm = _ref_logsumexp(log_joint, 1)
    return np.exp(log_joint - log_norm[:, None]), float(np.sum(log_norm))


def _ref_m_step(X, resp, reg_covar, *, mistake=None):
    """Closed-form M-step, or what a named mistake gives instead."""
    n, d = X.shape
    nk = resp.sum(axis=0)
    weights = nk / n
    if mistake == "weights_div_K":
        weights = nk / resp.shape[1]
    if mistake == "weights_no_div":
        weights = nk
    sums = resp.T @ X
    means = {"means_no_div": sums, "means_div_N": sums / n}.get(mistake, sums / nk[:, None])
    centre = X.mean(axis=0)
    covs = []
    for k in range(resp.shape[1]):
        diff = X - (centre if mistake == "cov_global_mean" else sums[k] / nk[k])
        weight = {"cov_unweighted": np.ones(n), "cov_resp_squared": resp[:, k] ** 2}.get(
            mistake, resp[:, k])
        scatter = (weight[:, None] * diff).T @ diff
        divisor = {"cov_no_div": 1.0, "cov_div_N": n, "cov_unbiased": nk[k] - 1}.get(
            mistake, nk[k])
        reg = 0.0 if mistake == "no_reg" else reg_covar
        covs.append(scatter / divisor + reg * np.eye(d))
    return weights, means, np.array(covs)


def _random_spd(rng, d, scale=1.0):
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.3 * np.eye(d))


def _mixture_problem(seed, n, d, k, separation=4.0):
    """X drawn from a random K-component mixture in D dimensions, with its parameters."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=separation, size=(k, d))
    covs = np.array([_random_spd(rng, d, scale=rng.uniform(0.5, 2.0)) for _ in range(k)])
    weights = rng.dirichlet(np.full(k, 5.0))
    z = rng.choice(k, size=n, p=weights)
    X = np.empty((n, d))
    for j in range(k):
        idx = np.flatnonzero(z == j)
        X[idx] = rng.multivariate_normal(means[j], covs[j], size=len(idx))
    return X, weights, means, covs


def _far_point(means, covs, sigmas=40.0):
    """A point at Mahalanobis distance >= `sigmas` from every component."""
    centre = means.mean(axis=0)
    direction = np.ones(means.shape[1]) / math.sqrt(means.shape[1])
    t = 1.0
    while True:
        p = centre + t * direction
        maha = [
            float((p - m) @ np.linalg.solve(c, p - m)) for m, c in zip(means, covs)
        ]
        if min(maha) >= sigmas**2:
            return p
        t *= 1.25


def _e_step_problems():
    """(description, X, weights, means, covariances) from easy to hard."""
    problems = []
    X, w, m, c = _mixture_problem(1, 200, 2, 3)
    problems.append(("2-D, 3 components, 200 points", X, w, m, c))
    problems.append(("D = 1, 2 components", *_mixture_problem(2, 120, 1, 2)))
    problems.append(("D = 3, 3 components", *_mixture_problem(3, 150, 3, 3)))
    problems.append(("K = 1 (a single component)", *_mixture_problem(4, 80, 2, 1)))
    w_empty = np.array([0.6, 0.4 - 1e-9, 1e-9])
    problems.append(("a nearly empty component (weight 1e-9)", X, w_empty, m, c))
    far = _far_point(m, c)
    X_far = np.vstack([X[:50], far])
    problems.append(("a point 40σ from every component", X_far, w, m, c))
    return problems


def _named(problems):
    return "; ".join(p[0] for p in problems)


# --------------------------------------------------------------------------- log-density


def check_log_gaussian_pdf(f, time_limit=10.0):
    r"""Check ``f(X, mean, cov)``: the ``(N,)`` log-densities $\log\mathcal N(x_n\mid\mu,\Sigma)$.

    $\log \mathcal{N}(x \mid \mu, \Sigma) = -\tfrac12[D\log 2\pi + \log\det\Sigma
    + (x-\mu)^\top\Sigma^{-1}(x-\mu)]$, compared within a relative 1e-6 with an
    independent ``slogdet``/``solve`` reference, on D = 1, 2, 3, an elongated
    covariance and a point 40σ away (log-density about -800, where the density
    itself underflows to 0).

    Parameters
    ----------
    f : callable
    time_limit : float
        Seconds each call may take.

    Returns
    -------
    CheckResult
    """

    def body():
        rng = np.random.default_rng(10)
        problems = []
        for d, n in ((2, 40), (1, 30), (3, 40)):
            mean = rng.normal(size=d)
            cov = _random_spd(rng, d, scale=2.5)
            X = mean + rng.normal(size=(n, d)) @ np.linalg.cholesky(cov).T
            problems.append((f"D = {d}", X, mean, cov))
        u = np.array([[math.cos(0.6), -math.sin(0.6)], [math.sin(0.6), math.cos(0.6)]])
        long_cov = u @ np.diag([9.0, 0.04]) @ u.T
        problems.append(("an elongated, rotated covariance", rng.normal(size=(30, 2)) * 2,
                         np.array([1.0, -2.0]), long_cov))
        mean, cov = problems[0][2], problems[0][3]
        far = _far_point(mean[None], cov[None])
        problems.append(("a point 40σ from the mean", np.vstack([problems[0][1][:5], far]),
                         mean, cov))
        for desc, X, mean, cov in problems:
            out = _call(f, (X, mean, cov), {}, "log_gaussian_pdf", time_limit, desc)
            _check_log_pdf_answer(out, X, mean, cov, desc)
        return [
            f"Verified on {len(problems)} problems ({_named(problems)}): the result has shape "
            "(N,) and equals log N(x | μ, Σ) within a relative 1e-6 of an independent "
            "reference, including about -800 for the far point (no underflow)."
        ]

    return _run_check("check_log_gaussian_pdf", body)


def _check_log_pdf_answer(out, X, mean, cov, desc):
    n, d = X.shape
    got = _as_float_array(out, "the value returned by log_gaussian_pdf")
    rtol = _tol(1e-6, _low_precision(out))
    const, logdet, maha = _ref_log_pdf_terms(X, mean, cov)
    ref = -0.5 * (const + logdet + maha)
    where = f"On the problem '{desc}'"
    if got.shape == (n, n):
        _fail(
            f"{where} the result has shape ({n}, {n}), expected ({n},).",
            "Diagnosis: `diff @ inv(cov) @ diff.T` gives the Mahalanobis term for every PAIR "
            "of points; only its diagonal is wanted.",
            "Hint: `np.sum(diff @ inv(cov) * diff, axis=1)` or "
            "`np.einsum('nd,de,ne->n', diff, inv(cov), diff)`.",
        )
    if got.shape != (n,):
        if got.size == n:
            _fail(f"{where} the result has shape {got.shape}, expected ({n},).",
                  "Hint: return a 1-D array (`.ravel()` or reduce with `axis=1`).")
        _fail(f"{where} the result has shape {got.shape}, expected ({n},) (one log-density "
              "per row of X).")
    if _close(got, ref, rtol, 1e-9):
        return
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(got[:-1])) and "40σ" in desc:
        _fail(
            f"{where} the far point's log-density is {got[-1]} instead of about "
            f"{ref[-1]:.0f}.",
            "Diagnosis: underflow. The density exp(-800) is 0 in float64, so "
            "`np.log(pdf)` is -inf.",
            "Hint: never form the density: compute -0.5 * (D log 2π + log det Σ + "
            "Mahalanobis²) directly in log space.",
        )
    mistakes = [
        (ref + 0.5 * logdet, "the log-determinant term is missing",
         "add -0.5 * log det Σ (`np.linalg.slogdet(cov)[1]`, or 2 Σ log diag(L) from "
         "Cholesky)"),
        (ref - 0.5 * logdet, "the log-determinant is not halved",
         "the term is -0.5 * log det Σ, not -log det Σ"),
        (ref + 0.5 * logdet - 0.5 * np.exp(logdet), "det Σ is used instead of log det Σ",
         "the term is -0.5 * log det Σ: `np.linalg.slogdet(cov)[1]`"),
        (ref + 0.5 * const, "the constant -D/2 · log 2π is missing",
         "add -0.5 * D * np.log(2 * np.pi)"),
        (ref + 0.5 * (d - 1) * _LOG_2PI, "the constant uses log 2π instead of D · log 2π",
         "multiply log 2π by D = X.shape[1]"),
        (ref - 0.5 * maha, "the Mahalanobis term is missing its factor 1/2",
         "the exponent is -0.5 * (x-μ)ᵀ Σ⁻¹ (x-μ)"),
        (-0.5 * (const + logdet + np.sum((X - mean) @ cov * (X - mean), axis=1)),
         "the Mahalanobis term uses Σ instead of Σ⁻¹",
         "solve with the covariance (`np.linalg.solve(cov, diff.T)`) instead of "
         "multiplying by it"),
        (np.exp(ref), "the density is returned, not its logarithm",
         "return the log-density; the E-step needs logs to avoid underflow"),
        (-ref, "the sign is flipped", "log-densities of a Gaussian are mostly negative: "
         "-0.5 * (...)"),
    ]
    for value, diagnosis, hint in mistakes:
        if np.all(np.isfinite(value)) and _close(got, value, rtol, 1e-9):
            _fail(f"{where} the log-densities are wrong.", f"Diagnosis: {diagnosis}.",
                  f"Hint: {hint}.")
    err = np.max(np.abs(got - ref))
    _fail(f"{where} the log-densities differ from the reference by up to {err:.3g}.",
          "Hint: log N(x | μ, Σ) = -0.5 * (D log 2π + log det Σ + (x-μ)ᵀ Σ⁻¹ (x-μ)); "
          "test each of the three terms on a 1-D example you can do by hand.")


# --------------------------------------------------------------------------- log-sum-exp


def check_logsumexp(f, time_limit=10.0):
    r"""Check ``f(a, axis)``: $\log\sum_i e^{a_i}$ along ``axis``, without overflow or underflow.

    Verified against an independent reference within a relative 1e-9 on 1-, 2- and
    3-D arrays and every axis, on values near +1000 (``exp`` overflows) and -1000
    (``exp`` underflows), on rows of very different sizes in one array (the max
    must be taken along ``axis``), and with ``-inf`` entries.

    Returns
    -------
    CheckResult
    """

    def body():
        rng = np.random.default_rng(20)
        a2 = rng.normal(scale=3.0, size=(5, 4))
        problems = [
            ("a (5, 4) array, axis=1", a2, 1),
            ("a (5, 4) array, axis=0", a2, 0),
            ("a (5, 4) array, axis=-1", a2, -1),
            ("a 1-D array, axis=0", rng.normal(size=7), 0),
            ("a (2, 3, 4) array, axis=1", rng.normal(size=(2, 3, 4)), 1),
            ("values near +1000", np.array([[1000.0, 1000.5, 999.0], [1002.0, 998.0, 1001.0]]), 1),
            ("values near -1000", np.array([[-1000.0, -1000.5, -999.0], [-1003, -1001, -1000]]), 1),
            ("rows near +1000 and -1000 in one array",
             np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.0]]), 1),
            ("-inf entries (log of a zero weight)", np.array([[-np.inf, 0.0, 1.0],
                                                              [2.0, -np.inf, -np.inf]]), 1),
        ]
        for desc, a, axis in problems:
            out = _call(f, (a, axis), {}, "logsumexp", time_limit, desc)
            _check_lse_answer(out, a, axis, desc)
        notes = []
        try:
            out = _call(f, (np.array([[0.0, 1.0], [-np.inf, -np.inf]]), 1), {}, "logsumexp",
                        time_limit, "a row of all -inf")
        except _Finding as finding:
            if finding.status != "failed":  # a time-out is still one
                raise
            out = None
            notes.append(f"Note (not an error): {finding.messages[0]} "
                         "scipy.special.logsumexp gives -inf there.")
        try:
            last = np.asarray(out, dtype=float).ravel()[-1:]
        except (TypeError, ValueError):
            last = np.array([])
        if out is not None and last.size and not (np.isneginf(last[0])):
            notes.append(
                f"Note (not an error): a row that is all -inf gives {last[0]} here; "
                "scipy.special.logsumexp gives -inf. Replace a non-finite max by 0 before "
                "subtracting it if you want the same."
            )
        return [
            f"Verified on {len(problems)} problems ({_named(problems)}): the right shape "
            "(the axis is removed), equal to log Σ exp along the axis within a relative 1e-9, "
            "finite where exp alone overflows or underflows."
        ] + notes

    return _run_check("check_logsumexp", body)


def _check_lse_answer(out, a, axis, desc):
    got = _as_float_array(out, "the value returned by logsumexp")
    rtol = _tol(1e-9, _low_precision(out))
    ref = _ref_logsumexp(a, axis)
    where = f"On the problem '{desc}'"
    if got.shape != ref.shape:
        if got.shape == np.expand_dims(ref, axis).shape:
            _fail(f"{where} the result has shape {got.shape}, expected {ref.shape}.",
                  "Diagnosis: the reduced axis was kept (keepdims=True).",
                  "Hint: return `np.squeeze(..., axis=axis)`, or reduce without keepdims; "
                  "keep the dimension only for the max you subtract.")
        if got.shape == ():
            _fail(f"{where} the result is one number, expected shape {ref.shape}.",
                  "Diagnosis: the sum ran over the whole array, ignoring `axis`.",
                  "Hint: pass `axis=axis` to np.max and np.sum.")
        _fail(f"{where} the result has shape {got.shape}, expected {ref.shape}.",
              "Hint: reduce along `axis` only (np.sum(..., axis=axis)).")
    if _close(got, ref, rtol, 1e-12):
        return
    if a.ndim >= 2:
        for other in range(a.ndim):
            if other != axis % a.ndim:
                alt = _ref_logsumexp(a, other)
                if alt.shape == got.shape and _close(got, alt, rtol, 1e-12):
                    _fail(f"{where} the sum ran along axis {other}, not axis {axis}.",
                          "Hint: pass `axis=axis` to both np.max and np.sum.")
    m = np.max(a, axis=axis)
    m = np.where(np.isfinite(m), m, 0.0)
    if np.all(np.isfinite(ref - m)) and _close(got, ref - m, rtol, 1e-12):
        _fail(f"{where} the result is off by the max of each slice.",
              "Diagnosis: the max was subtracted before exp but not added back.",
              "Hint: log Σ exp(a) = m + log Σ exp(a - m).")
    if np.any(np.isposinf(got)) and np.all(np.isfinite(ref)):
        _fail(f"{where} the result is +inf.",
              "Diagnosis: overflow: exp(1000) is inf in float64, so np.log(np.sum(np.exp(a))) "
              "fails.",
              "Hint: subtract the max m along the axis first: m + log Σ exp(a - m).")
    if np.any(np.isneginf(got) | np.isnan(got)) and np.all(np.isfinite(ref)):
        global_max = np.max(a[np.isfinite(a)])
        with np.errstate(divide="ignore"):
            alt = global_max + np.log(np.sum(np.exp(a - global_max), axis=axis))
        if "+1000 and -1000" in desc and np.array_equal(np.isneginf(alt), np.isneginf(got)):
            _fail(f"{where} the result is -inf for the row near -1000.",
                  "Diagnosis: the max was taken over the whole array, not along `axis`: "
                  "exp(-1000 - 1000) underflows to 0.",
                  "Hint: `m = np.max(a, axis=axis, keepdims=True)`.")
        _fail(f"{where} the result is -inf or NaN where it should be finite.",
              "Diagnosis: underflow: exp(-1000) is 0 in float64, and log(0) = -inf.",
              "Hint: subtract the max m along the axis first: m + log Σ exp(a - m).")
    finite = np.isfinite(got) & np.isfinite(m)
    if np.any(got[finite] < m[finite] - np.abs(m[finite]) * rtol - 1e-9):
        _fail(f"{where} the result is smaller than the max along the axis.",
              "Diagnosis: that is impossible for log Σ exp(a), which lies between max(a) and "
              "max(a) + log(n): were the values clipped (np.clip, or a floor) before exp?",
              "Hint: never clip: subtract the max m along the axis, m + log Σ exp(a - m).")
    err = np.max(np.abs(got - ref))
    _fail(f"{where} the result differs from log Σ exp by up to {err:.3g}.",
          "Hint: log Σ exp(a) = m + log Σ exp(a - m), with m the max along the axis.")


# --------------------------------------------------------------------------- E-step


def check_e_step(f, time_limit=10.0):
    r"""Check ``f(X, weights, means, covariances)`` -> ``(responsibilities, log_likelihood)``.

    $\gamma_{nk} = \pi_k\mathcal N(x_n\mid\mu_k,\Sigma_k) / \sum_j \pi_j\mathcal N(x_n\mid\mu_j,
    \Sigma_j)$, shape ``(N, K)``, and the total $\log p(X) = \sum_n \log\sum_k
    \pi_k\mathcal N(x_n\mid\mu_k,\Sigma_k)$, compared with an independent log-sum-exp
    reference (responsibilities within 1e-6, log-likelihood within a relative 1e-8)
    on D = 1, 2, 3, K = 1, a component of weight 1e-9 and a point 40σ from every
    component (where the direct formula gives 0/0).

    Returns
    -------
    CheckResult
    """

    def body():
        problems = _e_step_problems()
        for desc, X, w, m, c in problems:
            out = _call(f, (X, w, m, c), {}, "e_step", time_limit, desc)
            _check_e_step_answer(out, X, w, m, c, desc)
        return [
            f"Verified on {len(problems)} problems ({_named(problems)}): responsibilities of "
            "shape (N, K), every row summing to 1, equal to an independent log-sum-exp "
            "reference within 1e-6; the total log-likelihood (a number) within a relative "
            "1e-8; finite for the far point."
        ]

    return _run_check("check_e_step", body)


def _check_e_step_answer(out, X, w, m, c, desc):
    n, k = X.shape[0], len(w)
    where = f"On the problem '{desc}'"
    if not isinstance(out, tuple | list) or len(out) != 2:
        _fail(f"{where} e_step returned {type(out).__name__}, expected a pair "
              "(responsibilities, log_likelihood).",
              "Hint: `return resp, log_likelihood`.")
    resp = _as_float_array(out[0], "the responsibilities")
    ll = _as_float_array(out[1], "the log-likelihood")
    low = _low_precision(out[0], out[1])
    atol = _tol(1e-6, low)
    ref_resp, ref_ll = _ref_e_step(X, w, m, c)
    log_joint = _ref_log_joint(X, w, m, c)
    if resp.size == 1 and ll.shape == (n, k):
        _fail(f"{where} e_step returned (a number, an array of shape {ll.shape}).",
              "Diagnosis: the two results are in the wrong order.",
              "Hint: `return responsibilities, log_likelihood`.")
    if resp.shape == (k, n) and k != n:
        _fail(f"{where} the responsibilities have shape {resp.shape}, expected ({n}, {k}).",
              "Hint: one row per point and one column per component: transpose.")
    if resp.shape != (n, k):
        _fail(f"{where} the responsibilities have shape {resp.shape}, expected ({n}, {k}).")
    far = "40σ" in desc
    if not np.all(np.isfinite(resp)) or (far and not _close(resp[-1].sum(), 1.0, 0, atol)):
        bad_rows = np.flatnonzero(~np.all(np.isfinite(resp), axis=1)
                                  | (np.abs(resp.sum(axis=1) - 1) > atol))
        if far and list(bad_rows) == [n - 1]:
            _fail(f"{where} the far point's responsibilities are {resp[-1]}.",
                  "Diagnosis: the E-step was computed without log-sum-exp. Every π_k N(x | μ_k, "
                  "Σ_k) underflows to 0 for a point this far, so p / p.sum() is 0/0 (NaN), or "
                  "0 if an epsilon is added to the sum.",
                  "Hint: work with log π_k + log N(x | μ_k, Σ_k), subtract their logsumexp "
                  "along axis=1, then exponentiate.")
        _fail(f"{where} the responsibilities contain NaN or inf (rows {bad_rows[:5].tolist()}).",
              "Hint: work in log space and normalise with logsumexp.")
    if _close(resp, ref_resp, 0, atol):
        _check_e_step_ll(ll, X, ref_resp, log_joint, ref_ll, where, far, _tol(1e-8, low))
        return
    if far and _close(resp[:-1], ref_resp[:-1], 0, atol):
        _fail(f"{where} the far point's responsibilities are {resp[-1]}, expected "
              f"{ref_resp[-1]}; every other point's are right.",
              "Diagnosis: the E-step was computed without log-sum-exp. Every π_k N(x | μ_k, "
              "Σ_k) underflows to 0 for a point this far; clipping the logs, flooring the "
              "densities or adding an epsilon replaces them by made-up numbers, so the far "
              "point is not given to its nearest component.",
              "Hint: work with log π_k + log N(x | μ_k, Σ_k), subtract their logsumexp "
              "along axis=1, then exponentiate (no clip, no epsilon).")
    if np.all(resp <= 1e-12) and _close(np.exp(resp), ref_resp, 0, atol):
        _fail(f"{where} the responsibilities are all <= 0.",
              "Diagnosis: log-responsibilities were returned instead of responsibilities.",
              "Hint: return np.exp(log_resp).")
    if n > 1 and _close(resp, _normalise(log_joint, axis=0), 0, atol):
        _fail(f"{where} the columns of the responsibilities sum to 1, the rows do not.",
              "Diagnosis: responsibilities normalised over the wrong axis (over points, "
              "axis=0, instead of over components).",
              "Hint: each point's responsibilities sum to 1: normalise along axis=1 "
              "(keepdims=True, or [:, None]).")
    mistakes = [
        (_normalise(_ref_log_joint(X, w, m, c, with_logdet=False)),
         "the log-determinant term is missing from the log-density",
         "log N includes -0.5 * log det Σ_k, which differs between components (check your "
         "log_gaussian_pdf with check_log_gaussian_pdf)"),
        (_normalise(_ref_log_joint(X, w, m, c, with_weights=False)),
         "the mixing weights π_k are missing", "add np.log(weights) to each column"),
        (_normalise(_ref_log_joint(X, w, m, c, with_weights=False) + np.asarray(w)[None, :]),
         "the weights π_k were added to the log-densities, not their logs log π_k",
         "log(π_k N) = np.log(weights[k]) + log N(x | μ_k, Σ_k)"),
    ]
    for value, diagnosis, hint in mistakes:
        if _close(resp, value, 0, atol):
            _fail(f"{where} the responsibilities are wrong.", f"Diagnosis: {diagnosis}.",
                  f"Hint: {hint}.")
    if not np.allclose(resp.sum(axis=1), 1.0, atol=atol):
        _fail(f"{where} the rows of the responsibilities do not sum to 1.",
              "Hint: divide each row by its sum (in log space: subtract logsumexp along axis=1).")
    err = np.max(np.abs(resp - ref_resp))
    _fail(f"{where} the responsibilities differ from the reference by up to {err:.3g}.",
          "Hint: γ_nk ∝ π_k N(x_n | μ_k, Σ_k); test log π_k + log N on one point by hand.")


def _check_e_step_ll(ll, X, ref_resp, log_joint, ref_ll, where, far, rtol):
    n = X.shape[0]
    if ll.shape == (n,) and n > 1:
        diagnosis = ("the per-point log-likelihoods were returned"
                     if _close(ll.sum(), np.asarray(ref_ll), rtol) else
                     "an array was returned")
        _fail(f"{where} the log-likelihood has shape {ll.shape}, expected one number.",
              f"Diagnosis: {diagnosis}, not their total.", "Hint: sum over the points.")
    if ll.size != 1:
        _fail(f"{where} the log-likelihood has shape {ll.shape}, expected one number.")
    ll = float(ll.ravel()[0])
    if _close(np.asarray(ll), np.asarray(ref_ll), rtol):
        return
    if far and not math.isfinite(ll):
        _fail(f"{where} the log-likelihood is {ll}.",
              "Diagnosis: log Σ_k π_k N(x | μ_k, Σ_k) computed directly underflows for the "
              "far point (log 0 = -inf).",
              "Hint: the log-likelihood is the sum over points of logsumexp(log_joint, "
              "axis=1), the same numbers you normalise the responsibilities with.")
    q = float(np.sum(ref_resp * log_joint))
    mistakes = [
        (ref_ll / n, "the mean log-likelihood per point was returned, not the total",
         "return the sum over points (the table asks for the total)"),
        (q, "the expected complete-data log-likelihood Σ γ_nk (log π_k + log N) was returned",
         "log p(X) = Σ_n log Σ_k π_k N(x_n | μ_k, Σ_k): the logsumexp of each row, summed"),
    ]
    for value, diagnosis, hint in mistakes:
        if _close(np.asarray(ll), np.asarray(value), rtol):
            _fail(f"{where} the responsibilities are right but the log-likelihood is not.",
                  f"Diagnosis: {diagnosis}.", f"Hint: {hint}.")
    _fail(f"{where} the responsibilities are right but the log-likelihood is {ll:.6g}, "
          f"expected {ref_ll:.6g}.",
          "Hint: log p(X) = Σ_n logsumexp_k(log π_k + log N(x_n | μ_k, Σ_k)).")


# --------------------------------------------------------------------------- M-step


def _m_step_problems():
    """(description, X, responsibilities, reg_covar) from easy to hard."""
    problems = []
    for desc, seed, n, d, k in (
        ("2-D, 3 components, 200 points", 31, 200, 2, 3),
        ("D = 1, 2 components", 32, 120, 1, 2),
        ("D = 3, 3 components", 33, 150, 3, 3),
        ("K = 1 (a single component)", 34, 80, 2, 1),
    ):
        X, w, m, c = _mixture_problem(seed, n, d, k)
        # responsibilities of a perturbed model: soft, and not the truth
        resp, _ = _ref_e_step(X, w, m + 0.7, c * 1.5)
        problems.append((desc, X, resp, 1e-6))
    X = problems[0][1]
    problems.append(("reg_covar=0.1 (must be added to every covariance)", X, problems[0][2], 0.1))
    # component 1 collapses on one point; component 2 is nearly empty (N_k = 1e-3)
    rng = np.random.default_rng(35)
    n = X.shape[0]
    j = int(rng.integers(n))
    resp = np.empty((n, 3))
    resp[:, 2] = 1e-3 / n
    resp[:, 1] = 1e-12
    resp[j, 1] = 1.0 - resp[j, 2]
    resp[:, 0] = 1.0 - resp[:, 1] - resp[:, 2]  # rows sum to 1, every entry >= 0
    resp[j, 0] = 0.0
    problems.append(("a component collapsing on one point and a nearly empty one "
                     "(N_k = 0.001)", X, resp, 1e-6))
    return problems


_M_STEP_MISTAKES = {
    "weights_div_K": ("the weights are divided by K instead of N",
                      "π_k = N_k / N, with N = X.shape[0] points (they sum to 1)"),
    "weights_no_div": ("the weights are N_k, not divided by N", "π_k = N_k / N"),
    "means_no_div": ("the means are missing the division by N_k",
                     "μ_k = Σ_n γ_nk x_n / N_k, with N_k = Σ_n γ_nk"),
    "cov_no_div": ("the covariances are missing the division by N_k",
                   "Σ_k = Σ_n γ_nk (x_n - μ_k)(x_n - μ_k)ᵀ / N_k"),
    "cov_div_N": ("the covariances are divided by N instead of N_k",
                  "divide component k's weighted scatter by its own N_k = Σ_n γ_nk"),
    "cov_global_mean": ("the covariances are computed about the mean of all of X, not "
                        "about each component's new mean μ_k",
                        "use diff = X - means[k] inside the loop over k"),
    "means_div_N": ("the means are divided by the number of points N, not by N_k",
                    "μ_k = Σ_n γ_nk x_n / N_k: each component's weighted sum over its own N_k"),
    "cov_unbiased": ("the covariances are divided by N_k - 1 (the unbiased estimate), not N_k",
                     "the M-step maximises the likelihood: divide by N_k (np.cov needs "
                     "bias=True)"),
    "cov_unweighted": ("the responsibilities are missing from the covariances (every point "
                       "counts fully for every component)",
                       "weight each outer product by γ_nk: (resp[:, k, None] * diff).T @ diff"),
    "cov_resp_squared": ("the responsibilities are applied twice in the covariances (γ_nk² "
                         "instead of γ_nk)",
                         "weight one factor only: (resp[:, k, None] * diff).T @ diff, not "
                         "(resp[:, k, None] * diff).T @ (resp[:, k, None] * diff)"),
    "no_reg": ("reg_covar is not added to the covariances (or the reg_covar argument is "
               "ignored)",
               "add reg_covar * np.eye(D) to every Σ_k; without it a component that collapses "
               "on one point gets a singular covariance"),
}
_MISTAKE_TARGET = {"weights_div_K": 0, "weights_no_div": 0, "means_no_div": 1, "means_div_N": 1,
                   "cov_no_div": 2, "cov_div_N": 2, "cov_global_mean": 2, "cov_unbiased": 2,
                   "cov_unweighted": 2, "cov_resp_squared": 2, "no_reg": 2}


def check_m_step(f, time_limit=10.0):
    r"""Check ``f(X, responsibilities, reg_covar=1e-6)`` -> ``(weights, means, covariances)``.

    $N_k = \sum_n\gamma_{nk}$, $\pi_k = N_k/N$, $\mu_k = \sum_n\gamma_{nk}x_n/N_k$,
    $\Sigma_k = \sum_n\gamma_{nk}(x_n-\mu_k)(x_n-\mu_k)^\top/N_k + \text{reg\_covar}\,I$,
    compared with an independent reference (relative 1e-6 for weights and means,
    1e-5 of each covariance's size), on D = 1, 2, 3, K = 1, ``reg_covar=0.1``, a
    component that collapses on one point and one that is nearly empty.

    Returns
    -------
    CheckResult
    """

    def body():
        problems = _m_step_problems()
        for desc, X, resp, reg in problems:
            out = _call(f, (X, resp), {"reg_covar": reg}, "m_step", time_limit, desc)
            _check_m_step_answer(out, X, resp, reg, desc)
        return [
            f"Verified on {len(problems)} problems ({_named(problems)}): weights (K,) summing "
            "to 1, means (K, D), covariances (K, D, D) symmetric positive-definite, each equal "
            "to the closed-form M-step within 1e-5 relative, reg_covar added, a collapsing "
            "component kept positive-definite."
        ]

    return _run_check("check_m_step", body)


def _check_m_step_answer(out, X, resp, reg, desc):
    n, d = X.shape
    k = resp.shape[1]
    where = f"On the problem '{desc}'"
    if not isinstance(out, tuple | list) or len(out) != 3:
        _fail(f"{where} m_step returned {type(out).__name__}, expected a triple "
              "(weights, means, covariances).")
    weights = _as_float_array(out[0], "the weights")
    means = _as_float_array(out[1], "the means")
    covs = _as_float_array(out[2], "the covariances")
    low = _low_precision(*out)
    for name, arr, shape in (("weights", weights, (k,)), ("means", means, (k, d)),
                             ("covariances", covs, (k, d, d))):
        if arr.shape != shape:
            hint = ("Hint: means[k] = resp[:, k] @ X / N_k, so means = resp.T @ X / Nk[:, None]."
                    if name == "means" and arr.shape == (d, k) else
                    "Hint: K = responsibilities.shape[1], D = X.shape[1].")
            _fail(f"{where} the {name} have shape {arr.shape}, expected {shape}.", hint)
    ref = _ref_m_step(X, resp, reg)
    got = (weights, means, covs)
    names = ("weights", "means", "covariances")

    def same(which, expected):
        if which == 0:
            return _close(weights, expected, _tol(1e-6, low), 1e-12)
        if which == 1:
            return _scaled_close(means, expected, _tol(1e-6, low))
        return all(_scaled_close(covs[j], expected[j], _tol(1e-5, low)) for j in range(k))

    for which in range(3):
        if same(which, ref[which]):
            continue
        for mistake, (diagnosis, hint) in _M_STEP_MISTAKES.items():
            if _MISTAKE_TARGET[mistake] != which:
                continue
            alt = _ref_m_step(X, resp, reg, mistake=mistake)[which]
            # a mistaken covariance formula may come with or without reg_covar added
            alts = [alt] if mistake == "no_reg" or which < 2 else [alt, alt - reg * np.eye(d)]
            if any(same(which, a) for a in alts):
                _fail(f"{where} the {names[which]} are wrong.", f"Diagnosis: {diagnosis}.",
                      f"Hint: {hint}.")
        if not np.all(np.isfinite(got[which])):
            _fail(f"{where} the {names[which]} contain NaN or inf.",
                  "Hint: a nearly empty component has a tiny N_k: divide by N_k itself (not "
                  "a rounded count), and add reg_covar * I to the covariances.")
        _fail(f"{where} the {names[which]} differ from the closed-form M-step.",
              ("Hint: π_k = N_k / N with N_k = Σ_n γ_nk.",
               "Hint: μ_k = Σ_n γ_nk x_n / N_k.",
               "Hint: Σ_k = Σ_n γ_nk (x_n - μ_k)(x_n - μ_k)ᵀ / N_k + reg_covar · I.")[which])
    if not np.allclose(covs, np.swapaxes(covs, 1, 2), rtol=_tol(1e-8, low), atol=1e-12):
        _fail(f"{where} the covariances are not symmetric.")


# --------------------------------------------------------------------------- EM loop


def _em_problems():
    """(description, X, start (w, m, c), max_iter, tol)."""
    X, w, m, c = _mixture_problem(41, 240, 2, 3, separation=2.5)
    rng = np.random.default_rng(42)
    start = (np.full(3, 1 / 3), X[rng.choice(len(X), 3, replace=False)],
             np.array([np.cov(X.T)] * 3))
    X1, *_ = _mixture_problem(43, 150, 1, 2, separation=3.0)
    start1 = (np.array([0.5, 0.5]), np.array([[X1.min()], [X1.max()]]),
              np.array([[[X1.var()]]] * 2))
    X3, *_ = _mixture_problem(44, 100, 3, 1)
    start3 = (np.array([1.0]), np.zeros((1, 3)), np.eye(3)[None])
    return [
        ("2-D, 3 components, tol=1e-3", X, start, 200, 1e-3),
        ("max_iter=4 with tol=-1, never reached (must stop after 4 iterations)", X, start, 4,
         -1.0),
        ("D = 1, 2 components, tol=1.8e-4", X1, start1, 200, 1.8e-4),
        ("K = 1, D = 3, tol=1e-6", X3, start3, 50, 1e-6),
    ]


def _ref_step(X, params):
    resp, _ = _ref_e_step(X, *params)
    return _ref_m_step(X, resp, 1e-6)


def _ref_ll(X, params):
    return _ref_e_step(X, *params)[1]


def _stop_iteration(lls, n, tol, max_iter, per_sample=True):
    """First t >= 1 at which the rule stops (the change from t-1 to t is below tol)."""
    for t in range(1, len(lls)):
        change = lls[t] - lls[t - 1]
        if (change / n if per_sample else change) < tol:
            return t
    return max_iter


def check_em(f, time_limit=30.0):
    r"""Check ``f(X, weights, means, covariances, max_iter, tol)`` -> ``(history, lls)``.

    ``history[t]`` is ``(weights, means, covariances)`` after t iterations
    (``history[0]`` the start) and ``log_likelihoods[t]`` the log-likelihood of
    ``history[t]``. Verified: ``history[0]`` is the start; every ``history[t+1]`` is
    one E-step + M-step (reg_covar 1e-6) of ``history[t]`` (the reference step,
    applied to the student's own ``history[t]``); each ``log_likelihoods[t]``
    matches ``history[t]``; the log-likelihood never decreases; the loop stops at
    the first iteration whose per-sample change $(\ell_t-\ell_{t-1})/N$ is below
    ``tol`` (or one iteration later), and after exactly ``max_iter`` iterations
    otherwise; a loop that never returns is stopped after ``time_limit`` seconds.

    Returns
    -------
    CheckResult
    """

    def body():
        problems = _em_problems()
        counts = []
        for desc, X, start, max_iter, tol in problems:
            out = _call(f, (X, *start, max_iter, tol), {}, "em", time_limit, desc)
            counts.append(_check_em_answer(out, X, start, max_iter, tol, desc))
        return [
            f"Verified on {len(problems)} problems ({_named(problems)}; your loop ran "
            f"{', '.join(map(str, counts))} iterations respectively): history[0] is the start, "
            "every step "
            "is one E-step + M-step, log_likelihoods[t] belongs to history[t] and never "
            "decreases, the loop stops on the per-sample change (ℓ_t - ℓ_{t-1}) / N < tol and "
            "after max_iter iterations at most."
        ]

    return _run_check("check_em", body)


def _as_params(entry, k, d, where, t):
    if not isinstance(entry, tuple | list) or len(entry) != 3:
        _fail(f"{where} history[{t}] is {type(entry).__name__}, expected a triple "
              "(weights, means, covariances).")
    w, m, c = (_as_float_array(a, f"history[{t}]") for a in entry)
    if w.shape != (k,) or m.shape != (k, d) or c.shape != (k, d, d):
        _fail(f"{where} history[{t}] has shapes {w.shape}, {m.shape}, {c.shape}; expected "
              f"({k},), ({k}, {d}), ({k}, {d}, {d}).")
    return w, m, c


def _same_params(a, b, rtol):
    return all(_scaled_close(x, y, rtol) for x, y in zip(a, b))


_PARAM_NAMES = ("weights", "means", "covariances")

# stopping rules a loop may use instead of the per-sample change, with their diagnoses
_WRONG_STOPPING_RULES = {
    "total": (lambda change, before, after, n: change,
              "the stopping rule uses the change of the total log-likelihood, not the "
              "per-sample change: the total grows with N, so the loop runs too long on large "
              "data sets (and stops too early on small ones)"),
    "relative": (lambda change, before, after, n: abs(change / before),
                 "the stopping rule uses the relative change (ℓ_t - ℓ_(t-1)) / |ℓ_(t-1)|, "
                 "not the per-sample change (ℓ_t - ℓ_(t-1)) / N: it depends on the scale of "
                 "the data (and on the sign of ℓ), not on how much each point gained"),
    "relative_new": (lambda change, before, after, n: abs(change / after),
                     "the stopping rule uses the relative change (ℓ_t - ℓ_(t-1)) / |ℓ_t|, "
                     "not the per-sample change (ℓ_t - ℓ_(t-1)) / N: it depends on the scale "
                     "of the data (and on the sign of ℓ), not on how much each point gained"),
}


def _rule_stop(lls, n, tol, max_iter, rule):
    """First t >= 1 at which a mistaken ``rule`` stops, or None if it never does."""
    measure = _WRONG_STOPPING_RULES[rule][0]
    for t in range(1, len(lls)):
        with np.errstate(all="ignore"):
            value = measure(lls[t] - lls[t - 1], lls[t - 1], lls[t], n)
        if value < tol:
            return t
    return None


def _check_em_answer(out, X, start, max_iter, tol, desc):
    n, d = X.shape
    k = len(start[0])
    where = f"On the problem '{desc}'"
    if not isinstance(out, tuple | list) or len(out) != 2:
        _fail(f"{where} em returned {type(out).__name__}, expected a pair "
              "(history, log_likelihoods).")
    raw_history, raw_lls = out
    try:
        raw_history = list(raw_history)
    except TypeError:
        _fail(f"{where} history is {type(raw_history).__name__}, expected a list of "
              "(weights, means, covariances).")
    lls = _as_float_array(raw_lls, "log_likelihoods").ravel()
    if not raw_history:
        _fail(f"{where} history is empty; history[0] must be the starting parameters.")
    history = [_as_params(e, k, d, where, t) for t, e in enumerate(raw_history)]
    low = _low_precision(raw_lls, *(a for entry in raw_history for a in entry))
    same_rtol, step_rtol, ll_rtol = _tol(1e-12, low), _tol(1e-5, low), _tol(1e-8, low)
    T = len(history) - 1
    aliased = [(t, j) for t in range(1, T + 1) for j in range(3)
               if raw_history[t][j] is raw_history[t - 1][j]]
    # the same object again is an in-place update when its values moved away from the start
    # (an array that is never updated keeps the start's values, and the same last entry
    # appended twice aliases only at the end: both are diagnosed below)
    moved = [t for t, j in aliased if not _scaled_close(history[t][j], start[j], same_rtol)]
    if moved and (T < 2 or min(moved) < T):
        _fail(f"{where} consecutive entries of history hold the same arrays.",
              "Diagnosis: the loop updates the arrays in place, and history stores the same "
              "objects again and again (so every entry shows the last parameters).",
              "Hint: append new arrays each iteration (the M-step returns new ones), or copies.")
    if not _same_params(history[0], start, same_rtol):
        if T >= 1 and _same_params(history[0], _ref_step(X, start), step_rtol):
            _fail(f"{where} history[0] is the result of the first iteration.",
                  "Hint: history[0] is the starting parameters: append them before the loop.")
        _fail(f"{where} history[0] is not the starting parameters you were given.")
    for t in range(T):
        expected = _ref_step(X, history[t])
        if _same_params(history[t + 1], expected, step_rtol):
            continue
        if _same_params(history[t + 1], history[t], 1e-12):
            if t + 1 == T and T >= 2 and all(
                _same_params(history[u + 1], _ref_step(X, history[u]), step_rtol)
                for u in range(t)
            ):
                _fail(f"{where} the last entry of history, history[{T}], repeats "
                      f"history[{T - 1}]; every entry before it is one EM iteration on.",
                      "Diagnosis: the last parameters were appended twice (once more after "
                      "the loop?).",
                      "Hint: append each iteration's parameters once, inside the loop.")
            _fail(f"{where} history[{t + 1}] equals history[{t}]: the parameters did "
                  "not change.", "Hint: feed the M-step's result back into the next E-step.")
        bad = [j for j in range(3) if not _scaled_close(history[t + 1][j], expected[j],
                                                        step_rtol)]
        names = " and ".join(_PARAM_NAMES[j] for j in bad)
        if all(_scaled_close(history[t + 1][j], history[t][j], 1e-12) for j in bad):
            _fail(f"{where} the {names} of history[{t + 1}] are those of history[{t}], while "
                  "the rest is one EM iteration on.",
                  f"Diagnosis: the {names} are never updated: the loop does not keep the "
                  f"M-step's new {names}.",
                  "Hint: take all three from the M-step, `weights, means, covariances = "
                  "m_step(X, responsibilities)`, and pass all three to the next E-step.")
        if len(bad) < 3:
            _fail(f"{where} the {names} of history[{t + 1}] are not one EM iteration from "
                  f"history[{t}] (the rest is).",
                  "Hint: run check_m_step first; then check that the loop stores what the "
                  "M-step returned, with reg_covar left at its default 1e-6.")
        _fail(f"{where} history[{t + 1}] is not one EM iteration (E-step then M-step) "
              f"from history[{t}].",
              "Hint: run check_e_step and check_m_step first; then check that each "
              "iteration uses the parameters of the previous one.")
    ref_lls = np.array([_ref_ll(X, p) for p in history])
    if lls.shape != ref_lls.shape or not _close(lls, ref_lls, ll_rtol, 1e-8):
        m = min(len(lls), len(ref_lls))
        ahead = T >= 1 and len(lls) >= T and _close(lls[:T], ref_lls[1 : T + 1], ll_rtol, 1e-8)
        behind = m >= 2 and _close(lls[1:m], ref_lls[: m - 1], ll_rtol, 1e-8)
        if ahead or behind:
            _fail(f"{where} log_likelihoods is one iteration off: log_likelihoods[t] is the "
                  f"log-likelihood of history[{'t+1' if ahead else 't-1'}], not of history[t].",
                  "Diagnosis: the log-likelihood is recorded on the wrong side of the M-step. "
                  "The E-step of iteration t computes the log-likelihood of the parameters it "
                  "is given, which are history[t] (before the M-step), not the new ones.",
                  "Hint: log_likelihoods[0] is the log-likelihood of the start; keep "
                  "len(log_likelihoods) == len(history).")
        if len(lls) != len(ref_lls):
            _fail(f"{where} len(log_likelihoods) is {len(lls)} but len(history) is "
                  f"{len(history)}; they must be equal.")
        if _close(lls * n, ref_lls, ll_rtol, 1e-8):
            _fail(f"{where} log_likelihoods[t] is the mean log-likelihood per point of "
                  "history[t], not the total.",
                  "Hint: record the total Σ_n log p(x_n) (your E-step's second output); the "
                  "stopping rule divides its change by N.")
        _fail(f"{where} log_likelihoods[t] is not the log-likelihood of history[t].",
              "Hint: it is Σ_n log Σ_k π_k N(x_n | μ_k, Σ_k) at history[t] (your E-step's "
              "second output).")
    if np.any(np.diff(lls) < -ll_rtol * np.abs(lls[1:]) - 1e-9):
        _fail(f"{where} the log-likelihood decreased; on these problems (where reg_covar is "
              "negligible) EM never decreases it.")
    if T > max_iter:
        _fail(f"{where} the loop ran {T} iterations, more than max_iter={max_iter}.",
              "Hint: `for t in range(max_iter):` runs exactly max_iter iterations at most.")
    t_rule = _stop_iteration(lls, n, tol, max_iter)
    if T in (t_rule, t_rule + 1) or (T == max_iter and t_rule >= max_iter):
        return T
    # where the per-sample rule (and each mistaken rule) stops, on a run long enough to tell
    longer = _ref_run(X, start, max_iter)
    t_rule = _stop_iteration(longer, n, tol, max_iter)
    changes = np.diff(longer) / n
    if T < t_rule and t_rule >= max_iter and not np.any(changes < tol):
        _fail(f"{where} the loop stopped after {T} iterations, but the per-sample change "
              f"never fell below tol={tol:g}: it must run all max_iter={max_iter} iterations.",
              "Hint: `for _ in range(max_iter):` runs max_iter iterations; break out of it "
              "only when (log_likelihoods[-1] - log_likelihoods[-2]) / N < tol.")
    if T == t_rule - 1:
        _fail(f"{where} the loop stopped after {T} iterations, one too early: the per-sample "
              f"change first drops below tol={tol:g} from history[{t_rule - 1}] to "
              f"history[{t_rule}], and history must end with history[{t_rule}].",
              "Diagnosis: the loop tests the change before it appends the new parameters and "
              "their log-likelihood, so the last iteration is lost.",
              "Hint: append to history and log_likelihoods first, then stop if "
              "(log_likelihoods[-1] - log_likelihoods[-2]) / N < tol.")
    for rule, (_, diagnosis) in _WRONG_STOPPING_RULES.items():
        t_wrong = _rule_stop(longer, n, tol, max_iter, rule)
        if t_wrong is not None and T in (t_wrong, t_wrong + 1) and abs(t_wrong - t_rule) > 1:
            _fail(f"{where} the loop ran {T} iterations; the per-sample rule stops at "
                  f"t={t_rule}.", f"Diagnosis: {diagnosis}.",
                  "Hint: stop when (ℓ_t - ℓ_{t-1}) / N < tol, with N = X.shape[0].")
    if T < t_rule:
        _fail(f"{where} the loop stopped after {T} iterations, but the per-sample change "
              f"(ℓ_t - ℓ_(t-1)) / N was still above tol={tol:g} (it first drops below at "
              f"t={t_rule}).",
              "Hint: stop when (log_likelihoods[-1] - log_likelihoods[-2]) / N < tol.")
    if T == max_iter:
        _fail(f"{where} the loop ran all max_iter={max_iter} iterations; the per-sample rule "
              f"stops at t={t_rule}.",
              "Diagnosis: the loop never stops on tol (is the change compared with tol, and "
              "does the comparison `break` out of the loop?).",
              "Hint: after appending, `if (log_likelihoods[-1] - log_likelihoods[-2]) / N < "
              "tol: break`.")
    _fail(f"{where} the loop ran {T} iterations; the per-sample rule stops at t={t_rule}.",
          "Hint: stop when (log_likelihoods[-1] - log_likelihoods[-2]) / N < tol.")


def _ref_run(X, start, max_iter):
    params, lls = start, [_ref_ll(X, start)]
    for _ in range(max_iter):
        params = _ref_step(X, params)
        lls.append(_ref_ll(X, params))
    return np.array(lls)


# --------------------------------------------------------------------------- ellipse


def _rotation(theta):
    return np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])


def _implied_cov(width, height, angle_degrees, n_std):
    """The covariance whose n_std-σ contour is this ellipse."""
    r = _rotation(math.radians(angle_degrees))
    return r @ np.diag([(width / 2) ** 2, (height / 2) ** 2]) @ r.T / n_std**2


def _drawn_ellipse(ellipse, ax, n_std):
    """(centre, covariance whose n_std contour it is) of the ellipse as drawn in data space.

    Read from the patch's transform, so an ellipse made with a transform of its own (as
    in matplotlib's gallery example ``confidence_ellipse``) is judged by what it draws;
    falls back on width, height and angle when that transform cannot be inverted.
    """
    try:
        to_data = (ellipse.get_transform() - ax.transData).get_affine().get_matrix()
        centre, axes = to_data[:2, 2], to_data[:2, :2]  # the unit circle -> the ellipse
        if np.all(np.isfinite(to_data)):
            return np.array(centre, dtype=float), axes @ axes.T / n_std**2
    except Exception:  # a non-affine or singular transform
        pass
    return (np.asarray(ellipse.get_center(), dtype=float),
            _implied_cov(ellipse.get_width(), ellipse.get_height(), ellipse.get_angle(),
                         n_std))


def check_ellipse(f, time_limit=10.0):
    r"""Check ``f(mean, cov, ax, n_std=2.0)``: it adds and returns the n_std-σ ``Ellipse``.

    The ellipse $(x-\mu)^\top\Sigma^{-1}(x-\mu) = n^2$. The ellipse as drawn (its
    patch transform into data coordinates: width, height and angle in degrees, set
    in the constructor or later, or a transform of its own as in matplotlib's
    ``confidence_ellipse`` example) is turned back into the covariance whose n_std
    contour it is, so any correct convention passes (width along either axis, any
    angle modulo 180°); that covariance must equal ``cov`` within 1e-6 relative, on rotated,
    axis-aligned, round and negatively correlated covariances and n_std = 1, 2, 3.
    Draws on a figure that is never shown; imports matplotlib when called.

    Returns
    -------
    CheckResult
    """

    def body():
        from matplotlib.figure import Figure
        from matplotlib.patches import Ellipse

        problems = [
            ("rotated by 30°, eigenvalues 4 and 0.25, n_std=2",
             [1.0, 2.0], _rotation(math.radians(30)) @ np.diag([4.0, 0.25])
             @ _rotation(math.radians(30)).T, 2.0),
            ("the same with n_std=1", [1.0, 2.0], None, 1.0),
            ("the same with n_std=3", [1.0, 2.0], None, 3.0),
            ("negative correlation (major axis at -60°), n_std=2", [-3.0, 0.5],
             _rotation(math.radians(-60)) @ np.diag([9.0, 1.0])
             @ _rotation(math.radians(-60)).T, 2.0),
            ("axis-aligned, taller than wide: diag(1, 4)", [0.0, 0.0], np.diag([1.0, 4.0]), 2.0),
            ("round: 2·I", [5.0, -5.0], 2.0 * np.eye(2), 2.0),
        ]
        problems = [(d, np.array(m), problems[0][2] if c is None else c, s)
                    for d, m, c, s in problems]
        pyplot = sys.modules.get("matplotlib.pyplot")
        before = set(pyplot.get_fignums()) if pyplot else set()
        try:
            for desc, mean, cov, n_std in problems:
                ax = Figure().add_subplot()
                out = _call(f, (mean, cov, ax), {"n_std": n_std}, "draw_ellipse", time_limit,
                            desc)
                _check_ellipse_answer(out, ax, mean, cov, n_std, desc, Ellipse)
        finally:
            pyplot = sys.modules.get("matplotlib.pyplot")
            if pyplot:  # close figures the student's code opened with plt (never shown)
                for num in set(pyplot.get_fignums()) - before:
                    pyplot.close(num)
        return [
            f"Verified on {len(problems)} problems ({_named(problems)}): an Ellipse added to "
            "ax and returned, centred on the mean, whose boundary is the n_std contour "
            "(x-μ)ᵀ Σ⁻¹ (x-μ) = n_std² within 1e-6."
        ]

    return _run_check("check_ellipse", body)


def _check_ellipse_answer(out, ax, mean, cov, n_std, desc, Ellipse):
    where = f"On the problem '{desc}'"
    if not isinstance(out, Ellipse):
        _fail(f"{where} draw_ellipse returned {type(out).__name__}, expected the "
              "matplotlib.patches.Ellipse it added.",
              "Hint: `ellipse = Ellipse(...); ax.add_patch(ellipse); return ellipse`.")
    if out not in ax.patches:
        _fail(f"{where} the ellipse was not added to the ax it was given.",
              "Hint: `ax.add_patch(ellipse)` on the ax argument (not plt.gca()).")
    try:
        width, height, angle = (float(v) for v in (out.get_width(), out.get_height(),
                                                   out.get_angle()))
    except (TypeError, ValueError):
        _fail(f"{where} the ellipse's width, height or angle is not a real number "
              f"({out.get_width()!r}, {out.get_height()!r}, {out.get_angle()!r}).",
              "Hint: np.linalg.eigh (for a symmetric matrix) returns real eigenvalues; "
              "scipy.linalg.eig returns complex ones.")
    if not all(map(math.isfinite, (width, height, angle))):
        _fail(f"{where} the ellipse's width, height or angle is not finite "
              f"({width}, {height}, {angle}).")
    center, implied = _drawn_ellipse(out, ax, n_std)
    if not _scaled_close(center, mean, 1e-9) and not np.allclose(center, mean):
        _fail(f"{where} the ellipse is centred at {center.tolist()}, expected the mean "
              f"{mean.tolist()}.", "Hint: `Ellipse(xy=mean, ...)`.")
    if _scaled_close(implied, cov, 1e-6):
        return
    if out.get_data_transform() is not ax.transData and not _close(
        implied, _implied_cov(width, height, angle, n_std), 1e-9, 1e-12
    ):  # drawn through a transform of its own: width, height and angle do not tell
        _fail(f"{where} the ellipse (through its transform) is not the {n_std:g}σ contour "
              "of cov.",
              "Hint: with cov = U diag(λ) Uᵀ: width = 2 n_std √λ_major along the major "
              "eigenvector, height = 2 n_std √λ_minor, angle in degrees.")
    vals, vecs = np.linalg.eigh(cov)
    major = vecs[:, 1]
    theta = math.atan2(major[1], major[0])
    # mistakes in the angle, read from the student's own width, height and angle (so that
    # either convention, major or minor axis first, is recognised)
    for value, diagnosis, hint in (
        (_implied_cov(width, height, math.degrees(angle), n_std),
         "the angle was passed in radians; matplotlib's Ellipse takes degrees",
         "angle=np.degrees(np.arctan2(v[1], v[0]))"),
        (_implied_cov(width, height, -angle, n_std), "the angle has the wrong sign",
         "angle = degrees(arctan2(v_y, v_x)) for the eigenvector v that goes with the width, "
         "counter-clockwise from the x-axis"),
        (_implied_cov(width, height, 90.0 - angle, n_std),
         "the angle has x and y swapped (arctan2(v_x, v_y))",
         "np.arctan2 takes (y, x): arctan2(v[1], v[0])"),
    ):
        if _scaled_close(value, cov, 1e-6):
            _fail(f"{where} the ellipse is not the {n_std:g}σ contour.",
                  f"Diagnosis: {diagnosis}.", f"Hint: {hint}.")
    mistakes = [
        (vecs @ np.diag(vals**2) @ vecs.T,
         "the axes were drawn with the variances (eigenvalues), not the standard deviations",
         "width = 2 * n_std * np.sqrt(λ_major), height = 2 * n_std * np.sqrt(λ_minor)"),
        (_implied_cov(2 * n_std * math.sqrt(vals[1]), 2 * n_std * math.sqrt(vals[0]),
                      theta, n_std),
         "the angle was passed in radians; matplotlib's Ellipse takes degrees",
         "angle=np.degrees(np.arctan2(v[1], v[0]))"),
        (vecs @ np.diag(vals[::-1]) @ vecs.T,
         "the eigenvalues are paired with the wrong axes (the major axis drawn with the small "
         "eigenvalue)",
         "np.linalg.eigh returns eigenvalues in ascending order, eigenvector i in column "
         "vecs[:, i]: the width goes with the angle of the same eigenvector"),
        (cov / 4, "width and height are the semi-axes (n_std·σ), not the full axes",
         "Ellipse takes full width and height: 2 * n_std * sqrt(λ)"),
        (cov * (2.0 / n_std) ** 2, "n_std is ignored (the ellipse is always 2σ)",
         "scale the axes by the n_std argument"),
        (cov / n_std**2, "n_std is ignored (the ellipse is always 1σ)",
         "scale the axes by the n_std argument"),
        (cov / n_std, "n_std is inside the square root (√(n_std·λ) instead of n_std·√λ)",
         "the semi-axes are n_std * np.sqrt(λ)"),
        (cov * n_std**2, "the axes were scaled by n_std² instead of n_std",
         "the n_std contour has semi-axes n_std √λ: width = 2 * n_std * np.sqrt(λ)"),
        (np.diag(np.diag(cov)), "the rotation is ignored (axes from the diagonal of cov, "
         "angle 0)", "take the axes and angle from the eigen-decomposition of cov"),
        (_rotation(-2 * theta) @ cov @ _rotation(-2 * theta).T,
         "the angle has the wrong sign", "angle = degrees(arctan2(v_y, v_x)) for the major "
         "eigenvector v, counter-clockwise from the x-axis"),
        (_rotation(math.pi / 2 - 2 * theta) @ cov @ _rotation(math.pi / 2 - 2 * theta).T,
         "the angle has x and y swapped (arctan2(v_x, v_y))",
         "np.arctan2 takes (y, x): arctan2(v[1], v[0])"),
    ]
    for value, diagnosis, hint in mistakes:
        if _scaled_close(implied, value, 1e-6) and not _scaled_close(value, cov, 1e-6):
            _fail(f"{where} the ellipse is not the {n_std:g}σ contour.",
                  f"Diagnosis: {diagnosis}.", f"Hint: {hint}.")
    _fail(f"{where} the ellipse (width {width:.3g}, height {height:.3g}, angle {angle:.3g}°) "
          f"is not the {n_std:g}σ contour of cov.",
          "Hint: with cov = U diag(λ) Uᵀ: width = 2 n_std √λ_major along the major "
          "eigenvector, height = 2 n_std √λ_minor, angle in degrees.")
