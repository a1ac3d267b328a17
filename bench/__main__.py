"""``python -m bench <stage>``: entry point of every DAG rule."""

from bench.cli import main

raise SystemExit(main())
