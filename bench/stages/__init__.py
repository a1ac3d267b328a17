"""The bodies of the ``python -m bench`` stages, one module per job (data, training,
each protocol, the report, external methods); ``bench.cli`` builds its parser from them.

Each ``cmd_*`` takes the parsed ``argparse.Namespace`` and imports what it needs inside
the function, so ``import bench.cli`` stays cheap. ``common`` holds the chain every
scoring stage shares: load the test split and a trained method, score, write the rows
with the run's context.
"""
