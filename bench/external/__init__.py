"""Score any method's outputs: export a protocol as plain files, import a folder of outputs.

``export`` writes the pose-transfer tuples (and the representation protocol's test images)
as PNG files and one ``manifest.json``; a foreign method writes one PNG per tuple, kind
and K; ``import`` validates that folder and writes the ``generated.npz`` the ``synthesize``
stage writes for a built-in method, so the very same scoring code runs on it.
"""

#: The file a foreign method may add with its codes of every test image (protocol 2).
CODES_FILE = "codes.npz"
#: Beside ``generated.npz``: where the outputs came from (``external: true``, content hash).
PROVENANCE_FILE = "external.json"
#: Kinds of pose-transfer tuple, in the order ``generated.npz`` keys them.
KINDS = ("self", "cross")


def output_name(kind: str, k: int, tuple_id: int) -> str:
    """The file a foreign method writes for one tuple: ``k<K>_<kind>/<tuple:04d>.png``
    (the ``generated.npz`` key, then the tuple number)."""
    return f"k{k}_{kind}/{tuple_id:04d}.png"


def scored_run(method: str, label: str, generated: str) -> tuple[str, dict[int, str], dict]:
    """How the score stages label a run: (method label, ``not_applicable_k``, extra row
    fields). A run imported by ``python -m bench import`` has ``external.json`` beside its
    ``generated.npz``: it is labelled ``<name> (external)``, is applicable at every K, and
    each row carries ``external: true`` and the SHA-256 of its outputs folder."""
    import json
    from pathlib import Path

    provenance = Path(generated).with_name(PROVENANCE_FILE)
    if not provenance.is_file():
        from bench.methods.registry import get_method

        return label, get_method(method).cls.not_applicable_k, {}
    record = json.loads(provenance.read_text())
    extra = {"external": True, "outputs_sha256": record["outputs_sha256"]}
    return f"{method} (external)", {}, extra
