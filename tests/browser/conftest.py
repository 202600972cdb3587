"""Fixtures for the real-browser tests: a private JupyterLab server and headless Chromium.

Run with ``make test-browser`` (``pytest -m browser tests/browser``); without ``-m browser``
(e.g. ``make test``) these tests are reported as skipped with that hint. Needs Debian's
``chromium`` (``apt-get install -y chromium``) and the ``playwright`` Python package
(``pip install -e '.[browser]'``; never ``playwright install``: the test drives the system
Chromium through ``executable_path``).

Environment variables
---------------------
GMM_REQUIRE_BROWSER=1
    A missing Chromium/playwright is an error instead of a skip (CI sets this).
GMM_CHROMIUM
    Path of the Chromium binary (default ``/usr/bin/chromium``).
GMM_BROWSER_NOTEBOOKS
    Folder of notebooks to serve instead of ``notebooks/`` (to try the test on scratch or
    deliberately broken copies). Notebook 04 is only required in the default folder.
GMM_BROWSER_ARTIFACTS
    Where element screenshots go (default ``test-artifacts/browser/``).
GMM_BROWSER_RUN_TIMEOUT
    Seconds allowed for "run all cells" of one notebook (default 90).
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NOTEBOOK_DIR = REPO_ROOT / "notebooks"
# Notebooks that must be browser-tested whether or not discovery finds them.
REQUIRED_NOTEBOOKS = ("04_em_convergence.ipynb",)
WIDGET_CALLS = ("em_explorer(", "em_player(")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 15.0

HOW_TO_RUN = (
    "Run it with `make test-browser` (= `pytest -m browser tests/browser`) after "
    "`apt-get install -y chromium` and `pip install -e '.[browser]'` "
    "(never `playwright install`)."
)


def chromium_path() -> Path:
    return Path(os.environ.get("GMM_CHROMIUM", "/usr/bin/chromium"))


def notebook_source_dir() -> Path:
    return Path(os.environ.get("GMM_BROWSER_NOTEBOOKS", DEFAULT_NOTEBOOK_DIR)).resolve()


def artifacts_dir() -> Path:
    return Path(os.environ.get("GMM_BROWSER_ARTIFACTS", REPO_ROOT / "test-artifacts" / "browser"))


def _missing_requirements() -> list[str]:
    missing = []
    chrome = chromium_path()
    if not (chrome.is_file() and os.access(chrome, os.X_OK)):
        missing.append(f"no Chromium executable at {chrome}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the `playwright` Python package is not installed")
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        missing.append("the `jupyterlab` Python package is not installed")
    return missing


def require_browser() -> None:
    """Skip (or, with GMM_REQUIRE_BROWSER=1, fail) when the browser stack is missing."""
    missing = _missing_requirements()
    if not missing:
        return
    msg = (
        "browser test not run: "
        + "; ".join(missing)
        + ". "
        + HOW_TO_RUN
        + " GMM_REQUIRE_BROWSER=1 turns this skip into a failure."
    )
    if os.environ.get("GMM_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(msg + " (GMM_REQUIRE_BROWSER is set, so this is a failure)", pytrace=False)
    pytest.skip(msg)


def find_widget_notebooks(folder: Path) -> list[str]:
    """Names of the notebooks in ``folder`` whose code calls ``em_explorer(`` or ``em_player(``.

    Parameters
    ----------
    folder : Path
        Folder to scan (not recursive; checkpoints are ignored).

    Returns
    -------
    list of str
        Sorted file names; the names in ``REQUIRED_NOTEBOOKS`` are always included when
        ``folder`` is the project's ``notebooks/`` folder, so a missing or widget-less
        notebook 04 fails the test instead of silently shrinking it.
    """
    names = set()
    if folder.is_dir():
        for path in sorted(folder.glob("*.ipynb")):
            try:
                nb = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                names.add(path.name)  # let the test report the unreadable notebook
                continue
            for cell in nb.get("cells", []):
                src = cell.get("source", "")
                src = "".join(src) if isinstance(src, list) else src
                if cell.get("cell_type") == "code" and any(w in src for w in WIDGET_CALLS):
                    names.add(path.name)
                    break
    if folder == DEFAULT_NOTEBOOK_DIR.resolve():
        names.update(REQUIRED_NOTEBOOKS)
    return sorted(names)


def pytest_generate_tests(metafunc):
    if "notebook_name" in metafunc.fixturenames:
        names = find_widget_notebooks(notebook_source_dir())
        metafunc.parametrize("notebook_name", names or ["<no notebook calls an explorer>"])


def pytest_collection_modifyitems(config, items):
    """Browser tests run only when asked for with ``-m browser``; a plain ``pytest`` (``make
    test``) lists them as skipped, with the command that runs them."""
    if "browser" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(
        reason="browser test (JupyterLab in headless Chromium, ~1-2 min) runs only with "
        "`-m browser`. " + HOW_TO_RUN
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item so fixtures can tell whether the test failed.
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    """A running private JupyterLab."""

    proc: subprocess.Popen
    base_url: str
    token: str
    root_dir: Path
    log_path: Path
    source_dir: Path = DEFAULT_NOTEBOOK_DIR
    artifacts_dir: Path = REPO_ROOT / "test-artifacts" / "browser"
    required_notebooks: tuple[str, ...] = REQUIRED_NOTEBOOKS

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "<no server log>"
        return "\n".join(lines[-n:])


def _write_lab_settings(settings_dir: Path) -> None:
    def put(plugin: str, values: dict) -> None:
        path = settings_dir / plugin
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")

    # No news / update pop-up over the notebook.
    put(
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    # Every cell in the DOM (no virtual scrolling), so widgets far down are rendered.
    put("@jupyterlab/notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none"})


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server we started, by its PID (its own process group, kernels included)."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # Jupyter shuts its kernels down on SIGTERM
    try:
        proc.wait(timeout=SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # group id == our server's PID
        except ProcessLookupError:
            pass
        proc.wait(timeout=SERVER_STOP_TIMEOUT)


def _wait_until_up(proc: subprocess.Popen, base_url: str, token: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    req = urllib.request.Request(
        f"{base_url}/api/status", headers={"Authorization": f"token {token}"}
    )
    last_err = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited with code {proc.returncode} before serving; log:\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as err:
            last_err = err
        time.sleep(0.2)
    raise TimeoutError(
        f"jupyter lab did not answer {base_url}/api/status within {SERVER_START_TIMEOUT:.0f} s "
        f"(last error: {last_err}); log tail:\n" + log_path.read_text(errors="replace")[-4000:]
    )


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory) -> LabServer:
    """JupyterLab on 127.0.0.1, random port and token, private config, serving a copy."""
    require_browser()
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    src = notebook_source_dir()
    if src.is_dir():
        shutil.copytree(
            src, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
    else:
        (root / "notebooks").mkdir(parents=True)
    dirs = {
        name: base / name
        for name in ("config", "data", "settings", "workspaces", "runtime", "ipython")
    }
    for d in dirs.values():
        d.mkdir()
    _write_lab_settings(dirs["settings"])

    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        IPYTHONDIR=str(dirs["ipython"]),
        PYTHONUNBUFFERED="1",
    )
    # A global Agg backend would make kernels drop the inline figures the widgets show.
    env.pop("MPLBACKEND", None)

    token = secrets.token_hex(24)
    log_path = base / "jupyterlab.log"
    proc = None
    for _attempt in range(3):  # the free port can be taken between probe and bind
        port = _free_port()
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--expose-app-in-browser",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.terminals_enabled=False",
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(proc, base_url, token, log_path)
            break
        except RuntimeError:
            _stop(proc)
            if "already in use" not in log_path.read_text(errors="replace"):
                raise
        except BaseException:
            _stop(proc)
            raise
    else:
        raise RuntimeError("could not find a free port for jupyter lab")

    server = LabServer(
        proc, base_url, token, root, log_path, source_dir=src, artifacts_dir=artifacts_dir()
    )
    # `timeout` / CI cancellation sends SIGTERM: turn it into KeyboardInterrupt so pytest runs
    # this fixture's teardown (and stops the server) instead of dying on the spot.
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_sigterm)
    atexit.register(_stop, proc)  # last resort if teardown never runs
    try:
        yield server
    finally:
        _stop(proc)
        atexit.unregister(_stop)
        signal.signal(signal.SIGTERM, previous)


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright driver for the session (the sync API cannot run two at once)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


def _launch(pw):
    return pw.chromium.launch(
        executable_path=str(chromium_path()), headless=True, args=CHROMIUM_ARGS, timeout=30_000
    )


@pytest.fixture(scope="session")
def chromium(lab_server, playwright_driver):
    browser = _launch(playwright_driver)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def file_browser(playwright_driver):
    """Headless Chromium for pages opened from file:// (no JupyterLab server needed)."""
    browser = _launch(playwright_driver)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def lab_context(chromium):
    # One context for the session: JupyterLab's scripts come from the HTTP cache after the
    # first page, which saves seconds per notebook.
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def lab_page(request, lab_context, lab_server):
    """A fresh browser page; on failure a page screenshot and the server log are saved."""
    page = lab_context.new_page()
    page.set_default_timeout(20_000)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    try:
        yield page
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            out = artifacts_dir() / "failures"
            out.mkdir(parents=True, exist_ok=True)
            stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
            try:
                page.screenshot(path=str(out / f"{stem}.page.png"), timeout=10_000)
            except Exception:  # noqa: BLE001 - best effort, the test already failed
                pass
            (out / f"{stem}.console.txt").write_text("\n".join(console[-300:]))
            (out / f"{stem}.server.log").write_text(lab_server.log_tail(400))
        try:
            # Shut the notebook's kernels down so the next notebook starts clean.
            page.evaluate(
                """() => Promise.race([
                    window.jupyterapp.serviceManager.sessions.shutdownAll(),
                    new Promise(r => setTimeout(r, 5000))])"""
            )
        except Exception:  # noqa: BLE001 - the server is stopped by PID at session end anyway
            pass
        page.close()
