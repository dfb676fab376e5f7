"""`python -m trainer` entry point."""

from trainer.cli.main import run

run()
