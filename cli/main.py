"""The `assoc` Typer app: one sub-app per group, thin commands over the library."""

from __future__ import annotations

import typer

from cli import evaluate, index, lookup, misc, serve, synth, train

app = typer.Typer(help="Link short video clips to the long-form programs they were cut from.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
app.command("synth")(synth.synth)
app.add_typer(train.app, name="train")
app.add_typer(index.app, name="index")
app.command("lookup")(lookup.lookup)
app.command("eval")(evaluate.evaluate)
app.command("serve")(serve.serve)
app.command("demo")(misc.demo)
app.add_typer(misc.bench_app, name="bench")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
