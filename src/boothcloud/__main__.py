"""`python -m boothcloud` runs the CLI."""

from boothcloud.cli import app

app()
