"""`python -m trainer` entry point."""

from trainer.cli import main

raise SystemExit(main())
