"""`python -m service.cli`: the same command line as `care`."""

from service.cli import app

app()
