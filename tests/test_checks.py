"""gmm_helpers.checks: correct code passes however it is written; each classic mistake,
planted into a copy of the starter notebook's solution, is caught with its own diagnosis."""

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.special
import scipy.stats
from matplotlib.patches import Ellipse

from gmm_helpers import checks

ROOT = Path(__file__).resolve().parents[1]
TEACHER = ROOT / "notebooks" / "project" / "starter_teacher.ipynb"
CHECKS = {
    "log_gaussian_pdf": checks.check_log_gaussian_pdf,
    "logsumexp": checks.check_logsumexp,
    "e_step": checks.check_e_step,
    "m_step": checks.check_m_step,
    "em": checks.check_em,
    "draw_ellipse": checks.check_ellipse,
}


def solution_sources():
    """{grade_id: source} of the teacher notebook's solution cells, in notebook order."""
    nb = json.loads(TEACHER.read_text())
    out = {}
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("solution"):
            out[meta["grade_id"]] = "".join(cell["source"])
    return out


def solutions(**plants):
    """The notebook's solution functions, with ``name=(old, new)`` replaced in the source of
    the solution ``name`` first (each ``old`` must occur exactly once)."""
    namespace = {"np": np, "Ellipse": Ellipse}
    for name, source in solution_sources().items():
        if name in plants:
            for old, new in plants.pop(name):
                assert source.count(old) == 1, f"{old!r} not found once in {name}"
                source = source.replace(old, new)
        exec(compile(source, f"<solution {name}>", "exec"), namespace)
    assert not plants, f"no solution cells {list(plants)}"
    return namespace


@pytest.fixture(scope="module")
def solved():
    return solutions()


@pytest.mark.parametrize("name", list(CHECKS))
def test_notebook_solutions_pass(solved, name, capsys):
    result = CHECKS[name](solved[name])
    assert result.passed and bool(result) and result.status == "passed", result.messages
    assert result.messages[0].startswith("Verified on "), result.messages
    printed = capsys.readouterr().out
    assert printed.startswith(f"check_{name.replace('draw_', '')}: PASSED")


# ----------------------------------------------------------------- other correct styles


def lgp_eigen(X, mean, cov):
    """Eigen-decomposition, one point at a time."""
    vals, vecs = np.linalg.eigh(cov)
    out = np.empty(len(X))
    for n in range(len(X)):
        y = vecs.T @ (X[n] - mean)
        out[n] = -0.5 * (len(mean) * np.log(2 * np.pi) + np.sum(np.log(vals)) + np.sum(y**2 / vals))
    return out


def lgp_inv(X, mean, cov):
    """inv + slogdet + einsum."""
    diff = X - mean
    maha = np.einsum("nd,de,ne->n", diff, np.linalg.inv(cov), diff)
    return -0.5 * (X.shape[1] * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1] + maha)


def lse_loops(a, axis):
    """Moves the axis last and loops over the other entries."""
    moved = np.moveaxis(np.asarray(a, dtype=float), axis, -1)
    out = np.empty(moved.shape[:-1])
    for idx in np.ndindex(out.shape):
        row = moved[idx]
        m = row.max()
        out[idx] = m + np.log(np.sum(np.exp(row - m))) if np.isfinite(m) else m
    return out


def e_step_loops(X, weights, means, covariances):
    """Loops over points and components, inv/slogdet, math-module logs."""
    N, K = len(X), len(weights)
    log_joint = np.empty((N, K))
    for k in range(K):
        inv = np.linalg.inv(covariances[k])
        logdet = np.linalg.slogdet(covariances[k])[1]
        for n in range(N):
            d = X[n] - means[k]
            log_joint[n, k] = (np.log(weights[k]) - 0.5 * (len(d) * np.log(2 * np.pi) + logdet
                                                        + d @ inv @ d))
    resp = np.empty_like(log_joint)
    total = 0.0
    for n in range(N):
        norm = lse_loops(log_joint[n], 0)
        resp[n] = np.exp(log_joint[n] - norm)
        total += norm
    return resp, total


def e_step_scipy(X, weights, means, covariances):
    """scikit-learn's style: precision Cholesky factors and scipy's logsumexp."""
    log_joint = np.empty((len(X), len(weights)))
    for k, (w, m, c) in enumerate(zip(weights, means, covariances)):
        prec_chol = np.linalg.inv(np.linalg.cholesky(c)).T
        y = (X - m) @ prec_chol
        log_joint[:, k] = (np.log(w) - 0.5 * X.shape[1] * np.log(2 * np.pi)
                           + np.sum(np.log(np.diag(prec_chol))) - 0.5 * np.sum(y**2, axis=1))
    log_norm = scipy.special.logsumexp(log_joint, axis=1)
    return np.exp(log_joint - log_norm[:, None]), log_norm.sum()


def m_step_loops(X, responsibilities, reg_covar=1e-6):
    """Loops over the points, accumulating outer products."""
    N, D = X.shape
    K = responsibilities.shape[1]
    weights, means, covs = np.zeros(K), np.zeros((K, D)), np.zeros((K, D, D))
    for k in range(K):
        nk = 0.0
        for n in range(N):
            nk += responsibilities[n, k]
            means[k] += responsibilities[n, k] * X[n]
        means[k] /= nk
        for n in range(N):
            d = X[n] - means[k]
            covs[k] += responsibilities[n, k] * np.outer(d, d)
        covs[k] = covs[k] / nk + reg_covar * np.eye(D)
        weights[k] = nk / N
    return weights, means, covs


def m_step_one_pass(X, responsibilities, reg_covar=1e-6):
    """scikit-learn's 10·eps guard on N_k, and the one-pass E[xxᵀ] - μμᵀ covariance."""
    nk = responsibilities.sum(axis=0) + 10 * np.finfo(float).eps
    means = responsibilities.T @ X / nk[:, None]
    second = np.einsum("nk,nd,ne->kde", responsibilities, X, X) / nk[:, None, None]
    covs = second - np.einsum("kd,ke->kde", means, means) + reg_covar * np.eye(X.shape[1])
    return nk / len(X), means, covs


def make_em_while(e_step, m_step):
    def em_while(X, weights, means, covariances, max_iter, tol):
        """A while loop that tests convergence before the M-step."""
        history, lls, params, t = [], [], (weights, means, covariances), 0
        while True:
            resp, ll = e_step(X, *params)
            history.append(params)
            lls.append(ll)
            if t == max_iter or (t > 0 and abs(lls[-1] - lls[-2]) / len(X) < tol):
                return history, np.array(lls)
            params = m_step(X, resp)
            t += 1

    return em_while


def ellipse_minor_first(mean, cov, ax, n_std=2.0):
    """Width along the MINOR axis, angle of the minor eigenvector, added with add_artist."""
    vals, vecs = np.linalg.eigh(cov)
    minor = -vecs[:, 0]
    angle = np.degrees(np.arctan2(minor[1], minor[0])) + 360.0
    e = Ellipse(mean, width=2 * n_std * np.sqrt(vals[0]), height=2 * n_std * np.sqrt(vals[1]),
                angle=angle, facecolor="none")
    ax.add_artist(e)
    return e


def ellipse_closed_form(mean, cov, ax, n_std=2.0):
    """The 2x2 closed form: eigenvalues from trace and determinant, angle ½·atan2(2b, a - c)."""
    a, b, c = cov[0, 0], cov[0, 1], cov[1, 1]
    root = np.hypot((a - c) / 2, b)
    l1, l2 = (a + c) / 2 + root, (a + c) / 2 - root
    angle = np.degrees(0.5 * np.arctan2(2 * b, a - c))
    e = Ellipse(tuple(mean), 2 * n_std * np.sqrt(l1), 2 * n_std * np.sqrt(l2), angle=angle)
    ax.add_patch(e)
    return e


# correct code in styles the first tests did not use (an independent reader's; each once failed
# a check)


def lgp_scipy_stats(X, mean, cov):
    return scipy.stats.multivariate_normal(mean, cov).logpdf(X)


def lgp_inv_det(X, mean, cov):
    """inv and det (no slogdet): fine for these well-conditioned covariances."""
    diff = X - mean
    return -0.5 * (X.shape[1] * np.log(2 * np.pi) + np.log(np.linalg.det(cov))
                   + np.sum(diff @ np.linalg.inv(cov) * diff, axis=1))


def lgp_eig_list(X, mean, cov):
    """np.linalg.eig (unsorted), a list of Python floats."""
    vals, vecs = np.linalg.eig(cov)
    y = (X - mean) @ vecs
    return [float(v) for v in -0.5 * (X.shape[1] * np.log(2 * np.pi) + np.sum(np.log(vals))
                                      + np.sum(y**2 / vals, axis=1))]


def lgp_float32(X, mean, cov):
    X, mean, cov = (np.asarray(a, np.float32) for a in (X, mean, cov))
    L = np.linalg.cholesky(cov)
    z = np.linalg.solve(L, (X - mean).T)
    return -0.5 * (X.shape[1] * np.float32(np.log(2 * np.pi)) + 2 * np.sum(np.log(np.diag(L)))
                   + np.sum(z**2, axis=0))


def lse_recursive(a, axis):
    a = np.moveaxis(np.asarray(a), axis, 0)
    return a[0] if a.shape[0] == 1 else np.logaddexp(a[0], lse_recursive(a[1:], 0))


def lse_float32(a, axis):
    a = np.asarray(a, np.float32)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def log_joint_scipy(X, weights, means, covariances):
    return np.column_stack([np.log(w) + scipy.stats.multivariate_normal(m, c).logpdf(X)
                            for w, m, c in zip(weights, means, covariances)])


def e_step_lists(X, weights, means, covariances):
    """Lists of lists for the responsibilities, a 0-d array for the log-likelihood."""
    log_joint = log_joint_scipy(X, weights, means, covariances)
    log_norm = scipy.special.logsumexp(log_joint, axis=1)
    return np.exp(log_joint - log_norm[:, None]).tolist(), np.array(log_norm.sum())


def e_step_float32(X, weights, means, covariances):
    cols = [np.log(np.float32(w)) + lgp_float32(X, m, c)
            for w, m, c in zip(weights, means, covariances)]
    log_joint = np.stack(cols, axis=1)
    log_norm = lse_float32(log_joint, 1)
    return np.exp(log_joint - log_norm[:, None]), log_norm.sum()


def m_step_np_cov(X, responsibilities, reg_covar=1e-6):
    """np.cov with aweights (refuses negative weights: the problems' must be >= 0)."""
    Nk = responsibilities.sum(axis=0)
    covs = [np.atleast_2d(np.cov(X.T, aweights=responsibilities[:, k], bias=True))
            + reg_covar * np.eye(X.shape[1]) for k in range(len(Nk))]
    return Nk / Nk.sum(), responsibilities.T @ X / Nk[:, None], np.array(covs)


def m_step_einsum(X, responsibilities, reg_covar=1e-6):
    Nk = np.einsum("nk->k", responsibilities)
    means = np.einsum("nk,nd->kd", responsibilities, X) / Nk[:, None]
    diff = X[:, None, :] - means[None]
    covs = np.einsum("nk,nkd,nke->kde", responsibilities, diff, diff) / Nk[:, None, None]
    return Nk / len(X), means, covs + reg_covar * np.eye(X.shape[1])


def m_step_float32(X, responsibilities, reg_covar=1e-6):
    return m_step_einsum(X.astype(np.float32), responsibilities.astype(np.float32),
                         np.float32(reg_covar))


def m_step_tuples(X, responsibilities, reg_covar=1e-6):
    w, m, c = m_step_einsum(X, responsibilities, reg_covar)
    return tuple(w), tuple(map(tuple, m)), [list(map(list, ck)) for ck in c]


def make_em_recursive(e_step, m_step):
    def em(X, weights, means, covariances, max_iter, tol, _previous=None):
        """Recursive: each call is one iteration, history as lists of lists."""
        resp, ll = e_step(X, weights, means, covariances)
        here = [weights, means, covariances]
        if max_iter == 0 or (_previous is not None and (ll - _previous) / len(X) < tol):
            return [here], [ll]
        history, lls = em(X, *m_step(X, np.asarray(resp)), max_iter - 1, tol, _previous=ll)
        return [here] + history, [ll] + lls

    return em


def em_float32(X, weights, means, covariances, max_iter, tol):
    X = X.astype(np.float32)
    params = tuple(np.asarray(a, np.float32) for a in (weights, means, covariances))
    resp, ll = e_step_float32(X, *params)
    history, lls = [params], [ll]
    for _ in range(max_iter):
        params = m_step_float32(X, resp)
        resp, ll = e_step_float32(X, *params)
        history.append(params)
        lls.append(ll)
        if (lls[-1] - lls[-2]) / len(X) < tol:
            break
    return tuple(history), np.array(lls)


def ellipse_setters(mean, cov, ax, n_std=2.0):
    """Made first, then set_center / set_width / set_height / set_angle."""
    vals, vecs = np.linalg.eigh(cov)
    e = Ellipse((0, 0), 1, 1)
    e.set_center(mean)
    e.set_width(2 * n_std * np.sqrt(vals[1]))
    e.set_height(2 * n_std * np.sqrt(vals[0]))
    e.set_angle(np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1])))
    ax.add_patch(e)
    return e


def ellipse_gallery(mean, cov, ax, n_std=2.0):
    """matplotlib's gallery `confidence_ellipse`: a unit ellipse centred at 0, transformed."""
    import matplotlib.transforms as transforms

    pearson = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    e = Ellipse((0, 0), width=2 * np.sqrt(1 + pearson), height=2 * np.sqrt(1 - pearson),
                facecolor="none")
    shape = (transforms.Affine2D().rotate_deg(45)
             .scale(np.sqrt(cov[0, 0]) * n_std, np.sqrt(cov[1, 1]) * n_std)
             .translate(mean[0], mean[1]))
    e.set_transform(shape + ax.transData)
    ax.add_patch(e)
    return e


def ellipse_eig_float32(mean, cov, ax, n_std=2.0):
    vals, vecs = np.linalg.eig(np.asarray(cov, np.float32))
    i = int(np.argmax(vals))
    e = Ellipse(tuple(mean), 2 * n_std * np.sqrt(vals[i]), 2 * n_std * np.sqrt(vals[1 - i]),
                angle=np.rad2deg(np.arctan2(vecs[1, i], vecs[0, i])))
    ax.add_artist(e)
    return e


@pytest.mark.parametrize(
    "name, f",
    [
        ("log_gaussian_pdf", lgp_eigen),
        ("log_gaussian_pdf", lgp_inv),
        ("logsumexp", lse_loops),
        ("logsumexp", scipy.special.logsumexp),
        ("e_step", e_step_loops),
        ("e_step", e_step_scipy),
        ("m_step", m_step_loops),
        ("m_step", m_step_one_pass),
        ("em", make_em_while(e_step_scipy, m_step_one_pass)),
        ("draw_ellipse", ellipse_minor_first),
        ("draw_ellipse", ellipse_closed_form),
        ("log_gaussian_pdf", lgp_scipy_stats),
        ("log_gaussian_pdf", lgp_inv_det),
        ("log_gaussian_pdf", lgp_eig_list),
        ("log_gaussian_pdf", lgp_float32),
        ("logsumexp", lambda a, axis: np.logaddexp.reduce(a, axis=axis)),
        ("logsumexp", lse_recursive),
        ("logsumexp", lse_float32),
        ("e_step", e_step_lists),
        ("e_step", e_step_float32),
        ("m_step", m_step_np_cov),
        ("m_step", m_step_einsum),
        ("m_step", m_step_float32),
        ("m_step", m_step_tuples),
        ("em", make_em_recursive(e_step_lists, m_step_tuples)),
        ("em", em_float32),
        ("draw_ellipse", ellipse_setters),
        ("draw_ellipse", ellipse_gallery),
        ("draw_ellipse", ellipse_eig_float32),
    ],
    ids=lambda v: v if isinstance(v, str) else getattr(v, "__name__", "f"),
)
def test_other_correct_styles_pass(name, f):
    result = CHECKS[name](f)
    assert result.passed, result.messages


def test_em_with_loop_e_and_m_steps_passes(solved):
    em = make_em_while(e_step_loops, m_step_loops)
    assert checks.check_em(em, time_limit=120)


# ----------------------------------------------------------------- planted mistakes

NAIVE_E_STEP = (
    "    log_norm = logsumexp(log_joint, axis=1)  # (N,): log p(x_n)\n"
    "    return np.exp(log_joint - log_norm[:, None]), float(np.sum(log_norm))",
    "    p = np.exp(log_joint)\n"
    "    return p / p.sum(axis=1, keepdims=True), float(np.sum(np.log(p.sum(axis=1))))",
)
RECORD_BEFORE = (
    "        responsibilities, log_lik = e_step(X, *params)"
    "  # the log-likelihood of the new params\n"
    "        history.append(params)\n"
    "        log_likelihoods.append(log_lik)\n",
    "        history.append(params)\n"
    "        log_likelihoods.append(log_lik)  # still the E-step's value for the OLD params\n"
    "        responsibilities, log_lik = e_step(X, *params)\n",
)
RECORD_AFTER_ONLY = [
    ("    history, log_likelihoods = [params], [log_lik]",
     "    history, log_likelihoods = [params], []  # no log-likelihood for the start"),
    ("        if (log_likelihoods[-1]",
     "        if len(log_likelihoods) > 1 and (log_likelihoods[-1]"),
]

MISTAKES = [
    # (check, {solution: [(old, new)]}, words of its own diagnosis)
    ("e_step", {"e_step": [NAIVE_E_STEP]}, "computed without log-sum-exp"),
    ("e_step", {"e_step": [("np.exp(log_joint - log_norm[:, None])",
                            "np.exp(log_joint - logsumexp(log_joint, axis=0))")]},
     "normalised over the wrong axis"),
    ("m_step", {"m_step": [("means = responsibilities.T @ X / Nk[:, None]",
                            "means = responsibilities.T @ X")]},
     "means are missing the division by N_k"),
    ("m_step", {"m_step": [("@ diff / Nk[k]", "@ diff")]},
     "covariances are missing the division by N_k"),
    ("m_step", {"m_step": [("@ diff / Nk[k]", "@ diff / N")]},
     "divided by N instead of N_k"),
    ("m_step", {"m_step": [("diff = X - means[k]", "diff = X - X.mean(axis=0)")]},
     "about the mean of all of X"),
    ("m_step", {"m_step": [("weights = Nk / N", "weights = Nk / len(Nk)")]},
     "weights are divided by K instead of N"),
    ("m_step", {"m_step": [("covariances[k] += reg_covar * np.eye(D)", "pass")]},
     "reg_covar is not added"),
    ("log_gaussian_pdf", {"log_gaussian_pdf": [("np.log(2 * np.pi) + log_det +",
                                                "np.log(2 * np.pi) +")]},
     "log-determinant term is missing"),
    ("e_step", {"log_gaussian_pdf": [("np.log(2 * np.pi) + log_det +", "np.log(2 * np.pi) +")]},
     "log-determinant term is missing from the log-density"),
    ("e_step", {"e_step": [("np.exp(log_joint - log_norm[:, None])",
                            "log_joint - log_norm[:, None]")]},
     "log-responsibilities were returned"),
    ("em", {"em": [RECORD_BEFORE]}, "one iteration off"),
    ("em", {"em": RECORD_AFTER_ONLY}, "one iteration off"),
    ("em", {"em": [("(log_likelihoods[-1] - log_likelihoods[-2]) / len(X) < tol",
                    "log_likelihoods[-1] - log_likelihoods[-2] < tol")]},
     "uses the change of the total log-likelihood"),
    ("draw_ellipse", {"draw_ellipse": [
        ("np.sqrt(eigenvalues[1]), 2 * n_std * np.sqrt(eigenvalues[0])",
         "eigenvalues[1], 2 * n_std * eigenvalues[0]")]},
     "variances (eigenvalues), not the standard deviations"),
    ("draw_ellipse", {"draw_ellipse": [("angle = np.degrees(np.arctan2(major[1], major[0]))",
                                        "angle = np.arctan2(major[1], major[0])")]},
     "passed in radians"),
    ("draw_ellipse", {"draw_ellipse": [("major = eigenvectors[:, 1]",
                                        "major = eigenvectors[:, 0]")]},
     "paired with the wrong axes"),
    # beyond the issue's list
    ("logsumexp", {"logsumexp": [
        ("np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))",
         "np.log(np.sum(np.exp(a), axis=axis))")]}, "overflow"),
    ("logsumexp", {"logsumexp": [("np.squeeze(m, axis=axis) + np.log", "np.log")]},
     "not added back"),
    ("log_gaussian_pdf", {"log_gaussian_pdf": [("z = np.linalg.solve(L, (X - mean).T)",
                                                "X -= mean\n    z = np.linalg.solve(L, X.T)")]},
     "changed one of its input arrays in place"),
    ("e_step", {"e_step": [("float(np.sum(log_norm))", "float(np.mean(log_norm))")]},
     "mean log-likelihood per point"),
]


@pytest.mark.parametrize("check, plants, diagnosis", MISTAKES,
                         ids=[f"{m[0]}-{m[2][:30]}" for m in MISTAKES])
def test_planted_mistake_gets_its_own_diagnosis(check, plants, diagnosis, capsys):
    namespace = solutions(**plants)
    result = CHECKS[check](namespace[check])
    assert not result.passed and not bool(result) and result.status == "failed"
    text = " ".join(result.messages)
    assert diagnosis in text, text
    # its own diagnosis: no other mistake's wording appears
    others = {m[2] for m in MISTAKES if m[2] != diagnosis and m[2] not in diagnosis}
    assert not [o for o in others if o in text], text
    assert "Hint" in text
    printed = capsys.readouterr().out
    assert "FAILED" in printed.splitlines()[0] and diagnosis in printed.replace("\n    ", " ")


def test_each_issue_mistake_is_planted():
    """The issue's list, one entry per planted mistake above (guards against dropping one)."""
    diagnoses = [m[2] for m in MISTAKES]
    for words in ("without log-sum-exp", "wrong axis", "missing the division by N_k",
                  "instead of N_k", "mean of all of X", "instead of N", "reg_covar",
                  "log-determinant", "log-responsibilities", "one iteration off",
                  "change of the total", "variances", "radians", "wrong axes"):
        assert any(words in d for d in diagnoses), words


# ----------------------------------------------------------------- exceptions, time limit


def test_exception_in_student_code_is_a_diagnosis_not_a_crash(solved):
    namespace = solutions(log_gaussian_pdf=[("np.linalg.cholesky(cov)",
                                             "np.linalg.cholesky(cov - 100 * np.eye(D))")])
    result = checks.check_e_step(namespace["e_step"])
    assert result.status == "failed"
    assert "raised LinAlgError" in result.messages[0]
    assert "line" in result.messages[0] and "log_gaussian_pdf" in result.messages[0]
    assert "positive-definite" in result.messages[1]


def test_not_implemented_is_reported_with_the_function_that_raised(solved):
    def log_gaussian_pdf(X, mean, cov):
        raise NotImplementedError()

    def e_step(X, weights, means, covariances):
        return log_gaussian_pdf(X, means[0], covariances[0])

    result = checks.check_e_step(e_step)
    assert result.status == "not implemented" and not result
    assert result.messages[0].startswith("log_gaussian_pdf (called by e_step) raises")


def test_wrong_return_types_are_diagnosed():
    assert "expected a pair" in checks.check_e_step(lambda X, w, m, c: None).messages[0]
    assert "expected a triple" in checks.check_m_step(lambda X, r, reg_covar: (1, 2)).messages[0]
    result = checks.check_ellipse(lambda mean, cov, ax, n_std=2.0: None)
    assert "expected the matplotlib.patches.Ellipse" in result.messages[0]


def test_ellipse_not_added_to_the_given_ax(solved):
    def draw(mean, cov, ax, n_std=2.0):
        from matplotlib.figure import Figure

        return solved["draw_ellipse"](mean, cov, Figure().add_subplot(), n_std)

    assert "not added to the ax" in checks.check_ellipse(draw).messages[0]


def test_em_that_never_returns_is_stopped(solved):
    """`while True` ignores max_iter: the alarm stops the loop itself, in about time_limit s."""
    namespace = solutions(em=[("for _ in range(max_iter):", "while True:")])
    start = time.perf_counter()
    result = checks.check_em(namespace["em"], time_limit=2.0)
    elapsed = time.perf_counter() - start
    assert result.status == "timeout" and not result
    assert "did not return within 2 s" in result.messages[0]
    assert "max_iter" in result.messages[1]
    assert elapsed < 30


def test_hung_function_really_stops_on_the_main_thread():
    counter = [0]

    def spin(a, axis):
        while True:
            counter[0] += 1

    assert checks.check_logsumexp(spin, time_limit=0.5).status == "timeout"
    seen = counter[0]
    time.sleep(0.2)
    assert counter[0] == seen  # the loop was interrupted, not left running


def test_hung_function_in_a_jupyter_kernel_is_stopped_and_the_kernel_lives_on():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(
            "from gmm_helpers.checks import check_em\n"
            "def em(X, weights, means, covariances, max_iter, tol):\n"
            "    while True:\n"
            "        pass\n"
            "result = check_em(em, time_limit=2)"),
        nbformat.v4.new_code_cell("print('next cell ran:', result.status)"),
        nbformat.v4.new_code_cell(  # a bare except swallows one alarm, not all of them
            "import numpy as np\n"
            "def em(X, weights, means, covariances, max_iter, tol):\n"
            "    while True:\n"
            "        try:\n"
            "            np.linalg.inv(covariances[0])\n"
            "        except:\n"
            "            pass\n"
            "result = check_em(em, time_limit=1)"),
        nbformat.v4.new_code_cell(  # not EM: the hint does not talk about max_iter
            "import time\n"
            "from gmm_helpers.checks import check_ellipse\n"
            "def draw(mean, cov, ax, n_std=2.0):\n"
            "    time.sleep(100)\n"
            "result = check_ellipse(draw, time_limit=1)"),
        nbformat.v4.new_code_cell("print('last cell ran:', result.status)"),
    ])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    assert "did not return within 2 s" in nb.cells[0].outputs[0]["text"]
    assert nb.cells[1].outputs[0]["text"] == "next cell ran: timeout\n"
    assert "did not return within 1 s" in " ".join(nb.cells[2].outputs[0]["text"].split())
    ellipse_report = " ".join(nb.cells[3].outputs[0]["text"].split())
    assert "did not return within 1 s" in ellipse_report and "max_iter" not in ellipse_report
    assert nb.cells[4].outputs[0]["text"] == "last cell ran: timeout\n"


def test_time_limit_off_the_main_thread_uses_a_thread():
    stop = threading.Event()

    def spin(a, axis):
        while not stop.is_set():
            time.sleep(0.01)

    box = {}
    worker = threading.Thread(target=lambda: box.update(r=checks.check_logsumexp(spin, 0.5)))
    worker.start()
    worker.join(20)
    stop.set()  # let the abandoned thread end
    assert box["r"].status == "timeout"


def test_result_object():
    r = checks.CheckResult("check_x", "failed", ["a"])
    assert not r and r.passed is False and r.messages == ["a"]
    assert repr(r) == "<CheckResult check_x: failed>"
    assert checks.CheckResult("check_x", "passed", []).passed


def test_checks_need_numpy_only_at_import():
    import subprocess
    import sys

    code = ("import sys, gmm_helpers.checks; "
            "print([m for m in ('matplotlib', 'scipy', 'sklearn') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_em_problems_separate_the_stopping_rules():
    """The absolute-change rule stops much later than the per-sample one, and no change sits
    within 5% of tol (so the rule's iteration is not a coin toss on another CPU)."""
    desc, X, start, max_iter, tol = checks._em_problems()[0]
    lls = checks._ref_run(X, start, max_iter)
    t_rule = checks._stop_iteration(lls, len(X), tol, max_iter)
    t_abs = checks._stop_iteration(lls, len(X), tol, max_iter, per_sample=False)
    assert t_abs > t_rule + 5
    for _, X, start, max_iter, tol in checks._em_problems():
        if tol > 0:
            changes = np.diff(checks._ref_run(X, start, max_iter)) / len(X)
            t = checks._stop_iteration(np.r_[0, np.cumsum(changes)], 1, tol, max_iter)
            assert np.all(changes[: t - 1] > 1.05 * tol) and changes[t - 1] < 0.95 * tol


def test_far_point_defeats_the_direct_formula():
    """The hard problem is hard: without log-sum-exp every term underflows."""
    desc, X, w, m, c = checks._e_step_problems()[-1]
    assert "40σ" in desc
    dens = np.array([w[k] * np.exp(checks._ref_log_pdf(X[-1:], m[k], c[k])) for k in range(3)])
    assert np.all(dens == 0.0)


def test_an_outer_alarm_timer_is_given_back():
    import signal

    if not hasattr(signal, "setitimer"):
        pytest.skip("no setitimer on this platform")
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        checks.check_logsumexp(lambda a, axis: scipy.special.logsumexp(a, axis=axis))
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left < 5.0 and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_history_that_aliases_one_set_of_arrays(solved):
    def em(X, weights, means, covariances, max_iter, tol):
        weights, means, covariances = weights.copy(), means.copy(), covariances.copy()
        params = (weights, means, covariances)
        history, lls = [params], [solved["e_step"](X, *params)[1]]
        for _ in range(max_iter):
            resp, _ = solved["e_step"](X, *params)
            w, m, c = solved["m_step"](X, resp)
            weights[:], means[:], covariances[:] = w, m, c  # in place: history[0] changes too
            history.append(params)
            lls.append(solved["e_step"](X, *params)[1])
            if (lls[-1] - lls[-2]) / len(X) < tol:
                break
        return history, lls

    result = checks.check_em(em)
    assert not result
    assert "hold the same arrays" in result.messages[0] and "in place" in result.messages[1]


# ----------------------------------------------------------------- an independent reader's cases
# Plausible mistakes that once passed or got a wrong or vague diagnosis (the reader's correct
# styles are with the other styles above).


def test_m_step_problems_have_valid_responsibilities():
    """Non-negative rows summing to 1 (a negative entry made np.cov(aweights=...) raise)."""
    for *_, resp, _ in checks._m_step_problems():
        assert resp.min() >= 0 and np.allclose(resp.sum(axis=1), 1, rtol=0, atol=1e-12)


def _em_variant(step=None, stop=None, n_iter=None, record=None):
    """EM from e_step_scipy / m_step_einsum with one piece swapped for a mistake."""
    step = step or (lambda X, resp, params: m_step_einsum(X, resp))
    stop = stop or (lambda lls, n, tol: (lls[-1] - lls[-2]) / n < tol)

    def em(X, weights, means, covariances, max_iter, tol):
        params = (weights, means, covariances)
        resp, ll = e_step_scipy(X, *params)
        history, lls = [params], [ll]
        for _ in range(max_iter if n_iter is None else n_iter(max_iter)):
            new = step(X, resp, params)
            resp, ll = e_step_scipy(X, *new)
            if record == "test first" and stop(lls + [ll], len(X), tol):
                break
            params = new
            history.append(params)
            lls.append(ll)
            if record != "test first" and stop(lls, len(X), tol):
                break
        if record == "twice":  # the last parameters once more after the loop
            history.append(params)
            lls.append(ll)
        return history, [v / len(X) for v in lls] if record == "mean" else lls

    return em


def _ellipse_variant(width, height, angle):
    def draw(mean, cov, ax, n_std=2.0):
        vals, vecs = np.linalg.eigh(cov)
        w, h, a = (g(n_std, vals, vecs) for g in (width, height, angle))
        e = Ellipse(mean, w, h, angle=a, fill=False)
        ax.add_patch(e)
        return e

    return draw


def _log_joint_clipped(X, w, m, c):
    p = np.exp(np.clip(log_joint_scipy(X, w, m, c), -700, None))
    return p / p.sum(axis=1, keepdims=True), float(np.log(p.sum(axis=1)).sum())


def _log_joint_floored(X, w, m, c):
    p = np.maximum(np.exp(log_joint_scipy(X, w, m, c)), 1e-300)
    return p / p.sum(axis=1, keepdims=True), float(np.log(p.sum(axis=1)).sum())


def _e_step_weights_not_logged(X, w, m, c):
    log_joint = log_joint_scipy(X, np.ones(len(w)), m, c) + w
    log_norm = scipy.special.logsumexp(log_joint, axis=1)
    return np.exp(log_joint - log_norm[:, None]), log_norm.sum()


def _e_step_swapped(X, w, m, c):
    return e_step_scipy(X, w, m, c)[::-1]


def _m_step_cov_variant(weight, divisor):
    """m_step_einsum's weights and means; covariances from a mistaken weight and divisor."""
    def m_step(X, responsibilities, reg_covar=1e-6):
        weights, means, _ = m_step_einsum(X, responsibilities, reg_covar)
        covs = []
        for k in range(len(weights)):
            diff = X - means[k]
            r = responsibilities[:, k]
            covs.append((weight(r)[:, None] * diff).T @ diff / divisor(r)
                        + reg_covar * np.eye(X.shape[1]))
        return weights, means, np.array(covs)

    return m_step


def _m_step_means_div_N(X, responsibilities, reg_covar=1e-6):
    weights, _, covs = m_step_einsum(X, responsibilities, reg_covar)
    return weights, responsibilities.T @ X / len(X), covs


def _lgp_det_not_log(X, mean, cov):
    diff = X - mean
    return -0.5 * (X.shape[1] * np.log(2 * np.pi) + np.linalg.det(cov)
                   + np.sum(diff @ np.linalg.inv(cov) * diff, axis=1))


MAJOR = lambda s, v, u: 2 * s * np.sqrt(v[1])  # noqa: E731
MINOR = lambda s, v, u: 2 * s * np.sqrt(v[0])  # noqa: E731

READER_MISTAKES = [
    # (check, wrong function, words of its diagnosis)
    ("em", _em_variant(stop=lambda lls, n, tol: abs((lls[-1] - lls[-2]) / lls[-2]) < tol),
     "uses the relative change"),
    ("em", _em_variant(step=lambda X, r, p: (p[0], *m_step_einsum(X, r)[1:])),
     "the weights are never updated"),
    ("em", _em_variant(step=lambda X, r, p: (m_step_einsum(X, r)[0], p[1],
                                             m_step_einsum(X, r)[2])),
     "the means are never updated"),
    ("em", _em_variant(record="test first"), "one too early"),
    ("em", _em_variant(n_iter=lambda max_iter: max_iter - 1),
     "must run all max_iter=4 iterations"),
    ("em", _em_variant(record="mean"), "mean log-likelihood per point"),
    ("em", _em_variant(step=lambda X, r, p: m_step_einsum(X, r, 1e-2)),
     "the covariances of history[1] are not one EM iteration"),
    ("e_step", _log_joint_clipped, "computed without log-sum-exp"),
    ("e_step", _log_joint_floored, "computed without log-sum-exp"),
    ("e_step", _e_step_weights_not_logged, "not their logs"),
    ("logsumexp", lambda a, axis: np.log(np.sum(np.exp(np.clip(a, -700, 700)), axis=axis)),
     "clipped"),
    ("draw_ellipse",  # the minor-axis-first convention, with the angle in radians
     _ellipse_variant(MINOR, MAJOR, lambda s, v, u: np.arctan2(u[1, 0], u[0, 0])),
     "passed in radians"),
    ("draw_ellipse", _ellipse_variant(MAJOR, MINOR, lambda s, v, u: -np.degrees(
        np.arctan2(u[1, 1], u[0, 1]))), "wrong sign"),
    ("draw_ellipse", _ellipse_variant(lambda s, v, u: 2 * s**2 * np.sqrt(v[1]),
                                      lambda s, v, u: 2 * s**2 * np.sqrt(v[0]),
                                      lambda s, v, u: np.degrees(np.arctan2(u[1, 1], u[0, 1]))),
     "scaled by n_std²"),
    ("draw_ellipse", _ellipse_variant(lambda s, v, u: 2 * np.sqrt(s * v[1]),
                                      lambda s, v, u: 2 * np.sqrt(s * v[0]),
                                      lambda s, v, u: np.degrees(np.arctan2(u[1, 1], u[0, 1]))),
     "n_std is inside the square root"),
    ("draw_ellipse", lambda mean, cov, ax, n_std=2.0: ellipse_gallery(mean, cov, ax, 1.0),
     "(through its transform) is not the 2σ contour"),
    ("e_step", _e_step_swapped, "in the wrong order"),
    ("em", _em_variant(stop=lambda lls, n, tol: False), "never stops on tol"),
    ("em", _em_variant(record="twice"), "appended twice"),
    ("m_step", _m_step_cov_variant(lambda r: r**2, np.sum), "applied twice"),
    ("m_step", _m_step_cov_variant(lambda r: r, lambda r: r.sum() - 1), "N_k - 1"),
    ("m_step", _m_step_cov_variant(np.ones_like, np.sum), "responsibilities are missing"),
    ("m_step", _m_step_means_div_N, "the means are divided by the number of points N"),
    ("log_gaussian_pdf", _lgp_det_not_log, "det Σ is used instead of log det Σ"),
]


def test_logsumexp_that_refuses_an_all_minus_inf_row_passes_with_a_note():
    """Raising a ValueError for a slice of all -inf is a fair choice, not a mistake."""
    def lse(a, axis):
        m = np.max(a, axis=axis, keepdims=True)
        if not np.all(np.isfinite(m)):
            raise ValueError("expected a finite max along axis, got -inf")
        return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))

    result = checks.check_logsumexp(lse)
    assert result.passed, result.messages
    assert "Note (not an error)" in result.messages[-1] and "ValueError" in result.messages[-1]


@pytest.mark.parametrize("check, f, diagnosis", READER_MISTAKES,
                         ids=[f"{m[0]}-{m[2][:30]}" for m in READER_MISTAKES])
def test_more_mistakes_get_their_own_diagnosis(check, f, diagnosis):
    result = CHECKS[check](f)
    assert result.status == "failed", result.messages
    text = " ".join(result.messages)
    assert diagnosis in text, text
    others = {m[2] for m in MISTAKES + READER_MISTAKES if m[2] != diagnosis}
    assert not [o for o in others if o in text and o not in diagnosis], text
    assert "Hint" in text


def test_a_bare_except_does_not_swallow_the_time_limit():
    """`except:` in a loop that ignores max_iter catches one alarm; the alarm repeats."""
    def em(X, weights, means, covariances, max_iter, tol):
        while True:
            try:
                e_step_scipy(X, weights, means, covariances)
            except:  # noqa: E722
                pass

    start = time.perf_counter()
    result = checks.check_em(em, time_limit=1.0)
    assert result.status == "timeout"
    assert time.perf_counter() - start < 60
