"""Generate bench/data/synthfaces/assets/synthfaces_base.npz once, offline, from MediaPipe 0.10.21 FaceMesh.

Runs the legacy ``mediapipe.solutions.face_mesh.FaceMesh`` on scikit-image's public-domain
astronaut photo, turns the 468 predicted 3D points into a symmetric, unit-scaled base mesh and
stores it with its topology (854 triangles), mirror map, boundary loops and the iBUG-68 map.
Needs its own venv (mediapipe pins numpy<2); see README.md next to this file.
"""

from __future__ import annotations

import argparse
import itertools
import logging
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

log = logging.getLogger("make_asset")

# iBUG-68 landmark -> MediaPipe FaceMesh vertex (subject's right side first, as in iBUG).
# fmt: off
IBUG68_TO_MEDIAPIPE = (
    # jaw 0-16 (3D surface points along the face oval, not the silhouette)
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,
    # brows 17-21, 22-26
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose bridge 27-30, nose base 31-35
    168, 197, 5, 4, 98, 97, 2, 326, 327,
    # right eye 36-41, left eye 42-47
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer lip 48-59
    61, 40, 37, 0, 267, 270, 291, 321, 405, 17, 181, 91,
    # inner lip 60-67
    78, 81, 13, 311, 308, 402, 14, 178,
)
# fmt: on
# iBUG-68 index of each point's mirror partner.
IBUG68_MIRROR = (
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)


def detect_points() -> np.ndarray:
    """Run FaceMesh on the astronaut photo; return 468x3 points (x right, y up, z to camera) in pixels."""
    import skimage.data
    from mediapipe.python.solutions import face_mesh

    image = skimage.data.astronaut()
    height, width = image.shape[:2]
    with face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=False
    ) as mesh:
        result = mesh.process(image)
    if not result.multi_face_landmarks:
        raise RuntimeError("FaceMesh found no face in skimage.data.astronaut()")
    points = np.array(
        [
            (p.x * width, -p.y * height, -p.z * width)
            for p in result.multi_face_landmarks[0].landmark
        ]
    )
    return points


def tessellation_triangles() -> np.ndarray:
    """The 3-cliques of FACEMESH_TESSELATION (854 triangles)."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    neighbours: dict[int, set[int]] = {}
    for a, b in FACEMESH_TESSELATION:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    triangles = set()
    for a, nbrs in neighbours.items():
        for b, c in itertools.combinations(sorted(nbrs), 2):
            if c in neighbours[b]:
                triangles.add(tuple(sorted((a, b, c))))
    return np.array(sorted(triangles), dtype=np.int64)


def edge_uses(triangles: np.ndarray) -> dict[tuple[int, int], list[int]]:
    """Undirected edge -> indices of the triangles that use it."""
    uses: dict[tuple[int, int], list[int]] = {}
    for index, tri in enumerate(triangles):
        for k in range(3):
            u, v = int(tri[k]), int(tri[(k + 1) % 3])
            uses.setdefault((min(u, v), max(u, v)), []).append(index)
    return uses


def spurious_triangles(triangles: np.ndarray) -> np.ndarray:
    """Indices of 3-cliques whose three edges are all non-manifold (two nostril cliques, not surface faces)."""
    uses = edge_uses(triangles)
    flags = [
        all(
            len(uses[(min(int(t[k]), int(t[(k + 1) % 3])), max(int(t[k]), int(t[(k + 1) % 3])))])
            > 2
            for k in range(3)
        )
        for t in triangles
    ]
    return np.flatnonzero(flags)


def orient_triangles(points: np.ndarray, triangles: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """Consistent winding by flood fill over manifold edges, seeded so the nose-tip normal points to the camera."""
    oriented = triangles.copy()
    keep = np.ones(len(triangles), bool)
    keep[skip] = False
    uses = edge_uses(triangles)
    seed = next(i for i, t in enumerate(triangles) if 1 in t and keep[i])
    a, b, c = points[oriented[seed]]
    if np.cross(b - a, c - a)[2] < 0:
        oriented[seed] = oriented[seed][[0, 2, 1]]
    done = {seed}
    queue = [seed]
    while queue:
        current = queue.pop()
        tri = oriented[current]
        for k in range(3):
            u, v = int(tri[k]), int(tri[(k + 1) % 3])
            users = [i for i in uses[(min(u, v), max(u, v))] if keep[i]]
            if len(users) != 2:
                continue
            other = users[0] if users[1] == current else users[1]
            if other in done:
                continue
            t2 = oriented[other]
            same_direction = any(int(t2[j]) == u and int(t2[(j + 1) % 3]) == v for j in range(3))
            if same_direction:
                oriented[other] = t2[[0, 2, 1]]
            done.add(other)
            queue.append(other)
    if len(done) != keep.sum():
        raise RuntimeError("mesh is not edge-connected")
    behind = points.mean(0) - np.array([0.0, 0.0, 3.0 * np.ptp(points[:, 0])])
    for index in skip:
        a, b, c = points[oriented[index]]
        if np.cross(b - a, c - a) @ ((a + b + c) / 3 - behind) < 0:
            oriented[index] = oriented[index][[0, 2, 1]]
    return oriented


def mirror_map(points: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Vertex -> mirror vertex by Hungarian matching against the reflected shape, refined by Procrustes."""
    centred = points - points.mean(0)
    reflected = centred * np.array([-1.0, 1.0, 1.0])
    for _ in range(iterations):
        cost = ((reflected[:, None, :] - centred[None, :, :]) ** 2).sum(-1)
        _, match = linear_sum_assignment(cost + cost.T)
        # Best reflection (orthogonal, det -1) taking each point onto its partner.
        u, _, vt = np.linalg.svd(centred[match].T @ centred)
        rotation = u @ vt
        if np.linalg.det(rotation) > 0:
            u[:, -1] *= -1
            rotation = u @ vt
        reflected = centred @ rotation.T
    if not np.array_equal(match[match], np.arange(len(match))):
        raise RuntimeError("mirror map is not an involution")
    return match


def canonical_frame(points: np.ndarray, triangles: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """Rotate into x = subject's left (image right), y up, z towards camera; symmetrise; eye corners 1 apart."""
    differences = points - points[mirror]
    _, _, vt = np.linalg.svd(differences, full_matrices=False)
    x_axis = vt[0] * np.sign(vt[0] @ (points[263] - points[33]))
    a, b, c = (points[triangles[:, k]] for k in range(3))
    forward = np.cross(b - a, c - a).sum(0)
    z_axis = forward - (forward @ x_axis) * x_axis
    z_axis /= np.linalg.norm(z_axis)
    y_axis = np.cross(z_axis, x_axis)
    frame = np.stack([x_axis, y_axis, z_axis])
    local = (points - (points + points[mirror]).mean(0) / 2) @ frame.T
    flipped = local[mirror] * np.array([-1.0, 1.0, 1.0])
    symmetric = (local + flipped) / 2
    scale = np.linalg.norm(symmetric[263] - symmetric[33])
    symmetric = symmetric / scale
    eye_mid = (symmetric[33] + symmetric[263]) / 2
    return symmetric - eye_mid


def boundary_loops(triangles: np.ndarray) -> list[np.ndarray]:
    """Chains of edges that belong to exactly one triangle, each in triangle winding order."""
    counts: dict[tuple[int, int], int] = {}
    directed: dict[int, int] = {}
    for tri in triangles:
        for k in range(3):
            u, v = int(tri[k]), int(tri[(k + 1) % 3])
            key = (min(u, v), max(u, v))
            counts[key] = counts.get(key, 0) + 1
    for tri in triangles:
        for k in range(3):
            u, v = int(tri[k]), int(tri[(k + 1) % 3])
            if counts[(min(u, v), max(u, v))] == 1:
                directed[u] = v
    loops = []
    remaining = set(directed)
    while remaining:
        start = min(remaining)
        loop = [start]
        remaining.discard(start)
        nxt = directed[start]
        while nxt != start:
            loop.append(nxt)
            remaining.discard(nxt)
            nxt = directed[nxt]
        loops.append(np.array(loop))
    return loops


def main() -> None:
    """Build and save the asset."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=Path("bench/data/synthfaces/assets/synthfaces_base.npz")
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    raw = detect_points()
    triangles = tessellation_triangles()
    spurious = spurious_triangles(triangles)
    triangles = orient_triangles(raw, triangles, spurious)
    mirror = mirror_map(raw)
    vertices = canonical_frame(raw, triangles, mirror)
    keep = np.setdiff1d(np.arange(len(triangles)), spurious)
    loops = sorted(boundary_loops(triangles[keep]), key=len, reverse=True)
    lengths = [len(loop) for loop in loops]
    log.info("spurious (all-edges non-manifold) cliques: %s", triangles[spurious].tolist())
    log.info(
        "vertices %d, triangles %d, loops %s, midline fixed points %d",
        len(vertices),
        len(triangles),
        lengths,
        int((mirror == np.arange(len(mirror))).sum()),
    )
    if lengths != [36, 20, 16, 16]:
        raise RuntimeError(f"unexpected boundary loops {lengths}")
    oval, mouth = loops[0], loops[1]
    eye_r, eye_l = sorted(loops[2:], key=lambda loop: vertices[loop, 0].mean())

    mirrored = {tuple(sorted(mirror[t])) for t in triangles}
    # MediaPipe's tessellation has a few quads whose diagonal is flipped on one side only.
    log.info(
        "triangles without a mirror image (flipped quad diagonals): %d",
        len(mirrored - {tuple(sorted(t)) for t in triangles}),
    )
    ibug = np.array(IBUG68_TO_MEDIAPIPE)
    if len(ibug) != 68 or not np.array_equal(mirror[ibug], ibug[IBUG68_MIRROR]):
        raise RuntimeError("iBUG-68 map is not consistent with the mirror map")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        vertices=vertices.astype(np.float32),
        triangles=triangles.astype(np.int16),
        spurious_triangles=spurious.astype(np.int16),
        mirror=mirror.astype(np.int16),
        loop_oval=oval.astype(np.int16),
        loop_mouth=mouth.astype(np.int16),
        loop_eye_right=eye_r.astype(np.int16),
        loop_eye_left=eye_l.astype(np.int16),
        ibug68=ibug.astype(np.int16),
    )
    log.info("wrote %s (%d bytes)", args.out, args.out.stat().st_size)


if __name__ == "__main__":
    main()
