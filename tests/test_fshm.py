"""FSHM's generator widths (issue 19): G's AdaIN blocks run at the embedding size d, as in
the paper (G's 4x4 bottleneck of both ports is 512 = d wide), at every scale."""

from __future__ import annotations

import pytest
from test_method_configs import PAPER_RESOLUTION, RESOLUTION, toy_info

from bench.methods.registry import discover


@pytest.mark.parametrize("scale", ["smoke", "tiny", "paper"])
def test_generator_adain_blocks_are_embedding_wide(scale):
    """Every AdaIN residual block at G's bottleneck has d channels (tiny before issue 19's
    fix: 16 channels for d = 64, because two down blocks from width 8 stop at 16)."""
    spec = discover().get("fshm")
    resolution = PAPER_RESOLUTION["fshm"] if scale == "paper" else RESOLUTION[scale]
    method = spec.cls(spec.resolved_config(scale), toy_info(resolution))
    generator, d = method.generator, method.embedder.dim
    assert d == spec.resolved_config(scale)["max_width"]
    bottleneck = generator.adaptive[: generator.n_residual]
    assert [block.channels for block in bottleneck] == [(d, d)] * generator.n_residual
    assert generator.projection.shape[1] == d
