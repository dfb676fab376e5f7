"""`python -m trainer` entry point."""

from trainer.cli import run

run()
