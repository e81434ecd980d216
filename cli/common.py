"""What every command shares: exit codes, error conversion, progress, settings."""

from __future__ import annotations

import functools
import sys
from typing import Callable

import typer

from assoc.errors import AssocError, IndexMismatchError, InputError, MediaError, ModelError
from indexes.errors import DeviceUnavailableError, IndexBackendError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_DEPENDENCY = 0, 1, 2, 3


def exit_code(err: Exception) -> int:
    from indexes.text.elasticsearch_index import TextBackendUnavailable

    if isinstance(err, (TextBackendUnavailable, DeviceUnavailableError)):
        return EXIT_DEPENDENCY
    if isinstance(err, (InputError, MediaError, ModelError, IndexMismatchError, IndexBackendError)):
        return EXIT_USAGE
    return EXIT_FAILURE


def fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def boundary(fn: Callable) -> Callable:
    """Turn the library's exceptions into one line on stderr and the contract's exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (AssocError, IndexBackendError) as e:
            first, _, rest = str(e).partition("\n")
            typer.echo(f"error: {first}", err=True)
            if rest:
                typer.echo(rest, err=True)
            raise typer.Exit(exit_code(e))

    return wrapper


def progress_bar(desc: str) -> Callable:
    """A tqdm bar on stderr, driven by the library's progress(done, total, ...) callbacks."""
    from tqdm import tqdm

    state: dict = {}

    def update(done: int, total: int, *_: object) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc=desc, file=sys.stderr, disable=None, dynamic_ncols=True)
        bar = state["bar"]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def settings():
    from assoc.settings import Settings

    return Settings()


def load_catalog_or_fail(path):
    """The catalog's valid programs; every rejected line on stderr; exit 2 if none is valid."""
    from assoc.catalog import load_catalog
    from assoc.taxonomy import load_taxonomy

    catalog = load_catalog(path, load_taxonomy())
    for e in catalog.errors:
        typer.echo(f"rejected: {e}", err=True)
    if not catalog.programs:
        fail(f"{path}: no valid programs", EXIT_USAGE)
    return catalog
