"""idpose-bench: a reproducible benchmark harness for face identity/pose disentanglement.

The package is an ordinary library; every stage of the Snakemake DAG is one
``python -m bench <stage>`` call into it (see ``bench.cli``).
"""

from pathlib import Path

__version__ = "0.1.0"

#: Root of the repository checkout (holds ``methods/``, ``workflow/``, ``config/``).
REPO_ROOT = Path(__file__).resolve().parent.parent
