"""``python -m bench <stage>``: entry point of every DAG rule.

In a local DAG run the job is handed to the preload server (``bench/preload_server.py``),
which forks it from a process that has torch imported already; anywhere else, or when no
server answers, it runs here.
"""

import sys

from bench.preload_server import run_via_server

code = run_via_server(sys.argv[1:])
if code is None:
    from bench.cli import main

    code = main()
raise SystemExit(code)
