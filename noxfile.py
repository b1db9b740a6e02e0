"""nox sessions: tests, tests without the JIT, lint, the docs site, benchmarks."""

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.default_venv_backend = "venv"


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite against an installed (non-editable) package."""
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def tests_nojit(session: nox.Session) -> None:
    """The kernels' tests run as plain Python (numba's JIT disabled)."""
    session.install(".[test]")
    session.env["NUMBA_DISABLE_JIT"] = "1"
    session.run("pytest", "tests/devices", "tests/grid", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check; the import rules (import-linter, contracts in pyproject)."""
    session.install("ruff>=0.5", "import-linter>=2.0")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # lint-imports reads the packages from the working directory: no install needed.
    session.run("lint-imports")


@nox.session
def docs(session: nox.Session) -> None:
    """The manual (mkdocs.yml, docs/) with its API reference, warnings as errors.

    mkdocstrings reads the packages' source from the checkout, so only the `docs` extra is
    installed. `nox -s docs -- --site-dir DIR` builds elsewhere; `mkdocs serve` previews.
    """
    extras = nox.project.load_toml("pyproject.toml")["project"]["optional-dependencies"]
    session.install(*extras["docs"])
    session.env["NO_MKDOCS_2_WARNING"] = "1"  # Material's banner about its successor
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark in bench/, each printing its table."""
    session.install(".")
    for script in sorted(__import__("pathlib").Path("bench").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
