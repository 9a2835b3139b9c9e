"""Running `pilah` commands in tests, as a user types them (tests/test_*.py import this)."""

from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()


def invoke(*args):
    """Run ``pilah ARGS``; fail the test, showing its output, when it does not succeed."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def said(result) -> str:
    """The command's output with the terminal's line wrapping undone."""
    return " ".join(result.output.split())


def run_corpus(corpus, config=None, out=None, project=None, **options):
    """``pilah run CORPUS --project PROJECT --out OUT --config CONFIG`` as a function call:
    the run workflow on the project at ``project`` (made there when new)."""
    from pipeline.project import Project
    from pipeline.run import run

    with Project.open(project, config=config, new_ok=True) as opened:
        return run(opened, corpus, out, **options)
