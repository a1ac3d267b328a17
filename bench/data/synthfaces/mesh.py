"""SynthFaces head template: the committed FaceMesh asset grown into a closed head with bases.

Units: outer eye-corner distance = 1; x = subject's left (image right at frontal pose), y up,
z towards the camera; origin between the outer eye corners. Everything here is computed once per
process (``head_template()`` is cached) and is identical in every process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ASSET_PATH = Path(__file__).parent / "assets" / "synthfaces_base.npz"

# Part ids stored per vertex.
PART_FACE, PART_SHELL, PART_SOCKET, PART_EYEBALL, PART_MOUTH, PART_EAR, PART_NECK = range(7)
# Eyeball vertex classes.
EYE_PUPIL, EYE_IRIS, EYE_LIMBUS, EYE_SCLERA = range(4)

HEAD_CENTRE = np.array([0.0, -0.02, -0.75])  # centre of the skull ellipsoid
HEAD_RADII_UP = np.array([0.86, 1.07, 1.02])  # skull radii above the centre
HEAD_RADII_DOWN = np.array([0.86, 0.95, 1.02])  # flatter underside towards the neck
NECK_AXIS = np.array([0.0, 0.0, -0.62])  # vertical neck axis (x, -, z); also the yaw axis
POSE_PIVOT = np.array([0.0, -0.35, -0.62])  # head rotates about this point
EYEBALL_RADIUS = 0.16
SHAPE_NAMES = (
    "width", "height", "depth", "nose_length", "nose_width", "nose_protrusion", "eye_separation",
    "eye_size", "mouth_width", "lip_thickness", "chin_length", "jaw_width", "cheeks", "brow_height",
    "brow_ridge", "mouth_height",
)  # fmt: skip


@dataclass(frozen=True)
class HeadTemplate:
    """Neutral head mesh with per-vertex bases and region weights (read-only arrays)."""

    vertices: np.ndarray  # (N, 3) float64
    triangles: np.ndarray  # (M, 3) int32, counter-clockwise seen from outside
    n_head: int  # vertices [0, n_head) move with the head; the rest (neck) stay
    ibug68: np.ndarray  # (68,) vertex indices
    part: np.ndarray  # (N,) int8 part id
    eye_class: np.ndarray  # (N,) int8 eyeball class, -1 elsewhere
    shape_basis: np.ndarray  # (16, 3N) displacement per unit coefficient
    expression_basis: np.ndarray  # (4, 3N) displacement at full expression
    hair_up: np.ndarray  # (N,) height above the skull centre (hairline coordinate)
    hair_around: np.ndarray  # (N,) 0 at the front of the head, 1 at the back
    hair_normal: np.ndarray  # (N, 3) outward direction for hair volume (zero off the shell)
    brow: np.ndarray  # (N,) eyebrow weight
    lips: np.ndarray  # (N,) lip weight
    cheeks: np.ndarray  # (N,) blush weight
    beard: np.ndarray  # (N,) stubble weight
    shade: np.ndarray  # (N,) baked ambient occlusion and part darkening
    noise: np.ndarray  # (N,) fixed per-vertex texture noise
    teeth: np.ndarray  # (N,) bool, mouth-cavity vertices coloured as teeth
    ks16: np.ndarray  # (N,) specular weight, exponent 16
    ks64: np.ndarray  # (N,) specular weight, exponent 64


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Cubic step from 0 (x <= 0) to 1 (x >= 1)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def gaussian(points: np.ndarray, centre: np.ndarray, radius: float | np.ndarray) -> np.ndarray:
    """exp(-|p - c|^2 / r^2) with a scalar or per-axis radius."""
    return np.exp(-(((points - centre) / radius) ** 2).sum(-1))


def subdivide(vertices: np.ndarray, triangles: np.ndarray, loops: list[np.ndarray]):
    """Midpoint subdivision; original vertex indices are kept, loops get their edge midpoints."""
    n = len(vertices)
    a, b, c = triangles.T
    pairs = np.concatenate([np.stack([a, b], 1), np.stack([b, c], 1), np.stack([c, a], 1)])
    keys = np.minimum(pairs[:, 0], pairs[:, 1]) * n + np.maximum(pairs[:, 0], pairs[:, 1])
    unique = np.unique(keys)
    lo, hi = unique // n, unique % n
    new_vertices = np.concatenate([vertices, (vertices[lo] + vertices[hi]) / 2])

    def mid(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return n + np.searchsorted(unique, np.minimum(u, v) * n + np.maximum(u, v))

    ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
    new_triangles = np.concatenate(
        [np.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))]
    )
    new_loops = []
    for loop in loops:
        nxt = np.roll(loop, -1)
        new_loops.append(np.stack([loop, mid(loop, nxt)], 1).ravel())
    return new_vertices, new_triangles, new_loops, np.stack([lo, hi], 1)


def orient(
    vertices: np.ndarray, triangles: np.ndarray, towards: np.ndarray, outward: bool = True
) -> np.ndarray:
    """Flip triangles so their normals point away from (or, outward=False, towards) reference points."""
    p0, p1, p2 = (vertices[triangles[:, k]] for k in range(3))
    normal = np.cross(p1 - p0, p2 - p0)
    direction = (p0 + p1 + p2) / 3 - towards
    flip = (np.einsum("ij,ij->i", normal, direction) < 0) == outward
    fixed = triangles.copy()
    fixed[flip] = fixed[flip][:, [0, 2, 1]]
    return fixed


def ring_triangles(ring_a: np.ndarray, ring_b: np.ndarray) -> np.ndarray:
    """Quads between two closed rings of equal length, as triangles."""
    a1, b1 = np.roll(ring_a, -1), np.roll(ring_b, -1)
    return np.concatenate([np.stack([ring_a, a1, b1], 1), np.stack([ring_a, b1, ring_b], 1)])


def fan_triangles(ring: np.ndarray, pole: int) -> np.ndarray:
    """Triangles from a closed ring to one pole vertex."""
    return np.stack([ring, np.roll(ring, -1), np.full_like(ring, pole)], 1)


def skull_point(direction: np.ndarray) -> np.ndarray:
    """Point of the skull ellipsoid in the given (ellipsoid-normalised) direction."""
    direction = direction / np.linalg.norm(direction, axis=-1, keepdims=True)
    radii = np.where(direction[..., 1:2] > 0, HEAD_RADII_UP, HEAD_RADII_DOWN)
    return HEAD_CENTRE + direction * radii


def polyline_distance(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """2D distance (x, y) from each point to a polyline."""
    p = points[:, None, :2]
    a, b = line[None, :-1, :2], line[None, 1:, :2]
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1) / (ab * ab).sum(-1), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1).min(1)


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule point-in-polygon test in the x-y plane."""
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = polygon[None, :, 0], polygon[None, :, 1]
    x1, y1 = np.roll(x0, -1, 1), np.roll(y0, -1, 1)
    crosses = ((y0 > y) != (y1 > y)) & (
        x < (x1 - x0) * (y - y0) / np.where(y1 == y0, 1e-12, y1 - y0) + x0
    )
    return crosses.sum(1) % 2 == 1


class _Builder:
    """Accumulates parts of the head mesh."""

    def __init__(self) -> None:
        self.vertices: list[np.ndarray] = []
        self.triangles: list[np.ndarray] = []
        self.parts: list[np.ndarray] = []
        self.count = 0

    def add(self, vertices: np.ndarray, part: int) -> np.ndarray:
        """Append vertices of one part; return their indices."""
        index = np.arange(self.count, self.count + len(vertices))
        self.vertices.append(np.asarray(vertices, float))
        self.parts.append(np.full(len(vertices), part, np.int8))
        self.count += len(vertices)
        return index

    def all_vertices(self) -> np.ndarray:
        """Vertices added so far."""
        return np.concatenate(self.vertices)


def _uv_cap(
    centre: np.ndarray, frame: np.ndarray, radii: np.ndarray, angles_deg: np.ndarray, segments: int
):
    """Pole + rings of an ellipsoid cap around frame[2]; returns vertices, triangles (local), ring angles."""
    theta = np.deg2rad(angles_deg)
    phi = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    local = [np.array([[0.0, 0.0, 1.0]])]
    for t in theta:
        local.append(
            np.stack(
                [np.sin(t) * np.cos(phi), np.sin(t) * np.sin(phi), np.full_like(phi, np.cos(t))], 1
            )
        )
    local = np.concatenate(local) * radii
    vertices = centre + local @ frame
    triangles = [fan_triangles(np.arange(1, 1 + segments), 0)]
    for k in range(len(theta) - 1):
        ring_a = 1 + k * segments + np.arange(segments)
        triangles.append(ring_triangles(ring_a, ring_a + segments))
    return vertices, np.concatenate(triangles)


@functools.lru_cache(maxsize=1)
def head_template() -> HeadTemplate:
    """Build the head template from the committed asset (about 50 ms, once per process)."""
    asset = np.load(ASSET_PATH)
    base = asset["vertices"].astype(np.float64)
    keep = np.setdiff1d(np.arange(len(asset["triangles"])), asset["spurious_triangles"])
    face_tris = asset["triangles"][keep].astype(np.int64)
    loops_in = [
        asset[k].astype(np.int64)
        for k in ("loop_oval", "loop_mouth", "loop_eye_right", "loop_eye_left")
    ]
    face_v, face_t, (oval, mouth, eye_r, eye_l), midpoint_ends = subdivide(
        base, face_tris, loops_in
    )
    face_v = face_v + _close_mouth(face_v, mouth)
    # The subdivided boundary loops run opposite to the triangle winding only if the asset did; we
    # orient every generated part geometrically below, so loop direction does not matter.

    build = _Builder()
    build.add(face_v, PART_FACE)
    tris = [face_t]
    eye_class_parts: list[np.ndarray] = [np.full(len(face_v), -1, np.int8)]

    # Back shell swept from the face oval to a pole at the back of the skull.
    oval_p = face_v[oval]
    start = (oval_p - HEAD_CENTRE) / np.where(
        oval_p[:, 1:2] - HEAD_CENTRE[1] > 0, HEAD_RADII_UP, HEAD_RADII_DOWN
    )
    start_len = np.linalg.norm(start, axis=1, keepdims=True)
    start_dir = start / start_len
    back_dir = np.array([0.0, 0.15, -1.0]) / np.linalg.norm([0.0, 0.15, -1.0])
    omega = np.arccos(np.clip(start_dir @ back_dir, -1, 1))[:, None]
    rings = [oval]
    n_rings = 8
    shell_first = build.count
    for k in range(1, n_rings + 1):
        t = k / (n_rings + 1)
        direction = (np.sin((1 - t) * omega) * start_dir + np.sin(t * omega) * back_dir) / np.sin(
            omega
        )
        scale = start_len + (1.0 - start_len) * smoothstep(np.full_like(start_len, 2.5 * t))
        radii = np.where(direction[:, 1:2] > 0, HEAD_RADII_UP, HEAD_RADII_DOWN)
        rings.append(build.add(HEAD_CENTRE + direction * radii * scale, PART_SHELL))
    pole = build.add(skull_point(back_dir)[None], PART_SHELL)[0]
    shell_tris = [ring_triangles(rings[k], rings[k + 1]) for k in range(n_rings)] + [
        fan_triangles(rings[-1], pole)
    ]
    all_v = build.all_vertices()
    tris.append(orient(all_v, np.concatenate(shell_tris), HEAD_CENTRE))
    shell_idx = np.arange(shell_first, build.count)
    eye_class_parts.append(np.full(len(shell_idx), -1, np.int8))

    # Eye sockets (dark pockets behind the eye holes) and eyeballs with iris and pupil.
    eye_centres = []
    eyeball_sets = []
    for loop in (eye_r, eye_l):
        centroid = face_v[loop].mean(0)
        eye_centres.append(centroid)
        socket_pole = build.add((centroid - [0.0, 0.0, 0.22])[None], PART_SOCKET)[0]
        all_v = build.all_vertices()
        tris.append(
            orient(
                all_v, fan_triangles(loop, socket_pole), centroid + [0.0, 0.0, 1.0], outward=False
            )
        )
        eye_class_parts.append(np.array([-1], np.int8))
        front = face_v[loop, 2].mean() + 0.025
        centre = np.array([centroid[0], centroid[1] - 0.01, front - EYEBALL_RADIUS])
        angles = np.array([7.0, 8.5, 20.0, 23.0, 25.0, 32.0, 42.0, 56.0, 72.0, 95.0])
        classes = [EYE_PUPIL, EYE_PUPIL, EYE_IRIS, EYE_IRIS, EYE_LIMBUS] + [EYE_SCLERA] * 6
        cap_v, cap_t = _uv_cap(centre, np.eye(3), np.full(3, EYEBALL_RADIUS), angles, 16)
        ball = build.add(cap_v, PART_EYEBALL)
        all_v = build.all_vertices()
        tris.append(orient(all_v, cap_t + ball[0], centre))
        eye_class_parts.append(np.repeat(np.array(classes, np.int8), [1] + [16] * len(angles)))
        eyeball_sets.append((ball, centre))

    # Mouth cavity: a pocket behind the inner-lip loop, teeth-coloured near the lips.
    mouth_c = face_v[mouth].mean(0)
    mouth_rel = face_v[mouth] - mouth_c
    ring1 = build.add(mouth_c + 0.85 * mouth_rel - [0.0, 0.0, 0.05], PART_MOUTH)
    ring2 = build.add(mouth_c + 0.45 * mouth_rel - [0.0, 0.0, 0.22], PART_MOUTH)
    mouth_pole = build.add((mouth_c - [0.0, 0.0, 0.32])[None], PART_MOUTH)[0]
    all_v = build.all_vertices()
    mouth_tris = np.concatenate(
        [
            ring_triangles(mouth, ring1),
            ring_triangles(ring1, ring2),
            fan_triangles(ring2, mouth_pole),
        ]
    )
    tris.append(orient(all_v, mouth_tris, mouth_c + [0.0, 0.0, 1.0], outward=False))
    eye_class_parts.append(np.full(2 * len(mouth) + 1, -1, np.int8))

    # Ears: flattened ellipsoids half sunk into the side of the skull.
    ear_sets = []
    for side in (-1.0, 1.0):
        normal = np.array([side * 0.93, 0.0, 0.37])
        up = np.array([0.0, np.cos(0.25), -np.sin(0.25)])
        up = up - (up @ normal) * normal
        up /= np.linalg.norm(up)
        width = np.cross(normal, up)
        frame = np.stack([width, up, normal])
        centre = np.array([side * 0.74, -0.24, -0.74])
        ear_v, ear_t = _uv_cap(
            centre, frame, np.array([0.17, 0.30, 0.06]), np.linspace(20.0, 180.0, 9)[:-1], 14
        )
        ear_v = np.concatenate([ear_v, (centre - 0.06 * normal)[None]])
        ear_t = np.concatenate(
            [ear_t, fan_triangles(np.arange(len(ear_v) - 15, len(ear_v) - 1), len(ear_v) - 1)]
        )
        ear = build.add(ear_v, PART_EAR)
        all_v = build.all_vertices()
        tris.append(orient(all_v, ear_t + ear[0], centre))
        eye_class_parts.append(np.full(len(ear_v), -1, np.int8))
        ear_sets.append((ear, centre, frame))

    n_head = build.count
    # Neck: an elliptic cylinder that does not rotate with the head.
    phi = np.linspace(0.0, 2 * np.pi, 20, endpoint=False)
    neck_rings = []
    for y in (-0.35, -1.5, -6.0):
        ring = np.stack(
            [0.56 * np.sin(phi), np.full_like(phi, y), NECK_AXIS[2] + 0.5 * np.cos(phi)], 1
        )
        neck_rings.append(build.add(ring, PART_NECK))
    all_v = build.all_vertices()
    neck_tris = np.concatenate(
        [ring_triangles(neck_rings[0], neck_rings[1]), ring_triangles(neck_rings[1], neck_rings[2])]
    )
    axis_points = np.stack(
        [
            np.zeros(len(neck_tris)),
            all_v[neck_tris].mean(1)[:, 1],
            np.full(len(neck_tris), NECK_AXIS[2]),
        ],
        1,
    )
    tris.append(orient(all_v, neck_tris, axis_points))
    eye_class_parts.append(np.full(60, -1, np.int8))

    vertices = build.all_vertices()
    triangles = np.concatenate(tris).astype(np.int32)
    part = np.concatenate(build.parts)
    eye_class = np.concatenate(eye_class_parts)
    n = len(vertices)

    weights = _region_weights(
        vertices, triangles, part, face_v, mouth, (eye_r, eye_l), ear_sets, midpoint_ends
    )
    shape_basis = _shape_basis(vertices, part, eyeball_sets, eye_centres)
    expression_basis = _expression_basis(
        vertices, part, face_v, mouth, (eye_r, eye_l), (ring1, ring2, mouth_pole)
    )

    hair_normal = np.zeros((n, 3))
    rel = (vertices[shell_idx] - HEAD_CENTRE) / np.where(
        vertices[shell_idx, 1:2] > HEAD_CENTRE[1], HEAD_RADII_UP, HEAD_RADII_DOWN
    )
    hair_normal[shell_idx] = rel / np.linalg.norm(rel, axis=1, keepdims=True)
    hair_normal[oval] = 0.0
    teeth = np.zeros(n, bool)
    upper_half, _ = _split_loop(mouth, face_v, 13)
    teeth[ring1[upper_half]] = True
    teeth[ring1[np.abs(vertices[ring1, 0]) < 0.12]] = True
    rel = vertices - HEAD_CENTRE
    around = np.arctan2(np.abs(rel[:, 0]), rel[:, 2]) / np.pi
    template = HeadTemplate(
        vertices=vertices,
        triangles=triangles,
        n_head=n_head,
        ibug68=asset["ibug68"].astype(np.int64),
        part=part,
        eye_class=eye_class,
        shape_basis=shape_basis.reshape(len(SHAPE_NAMES), 3 * n),
        expression_basis=expression_basis.reshape(4, 3 * n),
        hair_up=rel[:, 1],
        hair_around=around,
        hair_normal=hair_normal,
        teeth=teeth,
        **weights,
    )
    for value in vars(template).values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    return template


def _vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    p0, p1, p2 = (vertices[triangles[:, k]] for k in range(3))
    face_n = np.cross(p1 - p0, p2 - p0)
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, triangles[:, k], face_n)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _region_weights(
    vertices, triangles, part, face_v, mouth, eye_loops, ear_sets, midpoint_ends
) -> dict[str, np.ndarray]:
    """Per-vertex colour regions, baked occlusion and specular weights."""
    n = len(vertices)
    face = part == PART_FACE
    skin_like = face | (part == PART_SHELL)

    # Baked ambient occlusion from mesh concavity (Laplacian along the normal).
    normals = _vertex_normals(vertices, triangles)
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    degree = np.bincount(edges[:, 0], minlength=n) + np.bincount(edges[:, 1], minlength=n)
    summed = np.zeros((n, 3))
    np.add.at(summed, edges[:, 0], vertices[edges[:, 1]])
    np.add.at(summed, edges[:, 1], vertices[edges[:, 0]])
    laplacian = summed / np.maximum(degree, 1)[:, None] - vertices
    concavity = np.einsum("ij,ij->i", laplacian, normals)
    shade = np.ones(n)
    shade[face] = np.clip(1.0 - 9.0 * concavity[face], 0.55, 1.08)
    # Midpoints of the subdivision are flat by construction: take their edge's mean instead.
    n_base = len(face_v) - len(midpoint_ends)
    shade[n_base : len(face_v)] = shade[midpoint_ends].mean(1)

    # Eyebrows: bands between the upper and lower brow rows of FaceMesh.
    brow = np.zeros(n)
    for upper, lower in (
        ([70, 63, 105, 66, 107], [46, 53, 52, 65, 55]),
        ([300, 293, 334, 296, 336], [276, 283, 282, 295, 285]),
    ):
        middle = (face_v[upper] + face_v[lower]) / 2
        middle[:, 1] += 0.01
        along = polyline_distance(vertices, middle)
        thickness = np.interp(np.abs(vertices[:, 0]), [0.1, 0.3, 0.6], [0.045, 0.05, 0.025])
        brow = np.maximum(brow, smoothstep((thickness - along) / 0.03 + 0.5))
    brow *= face & (vertices[:, 2] > -0.3)

    # Lips: inside the outer lip contour.
    outer = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]  # fmt: skip
    lips = (inside_polygon(vertices, face_v[outer]) & face & (vertices[:, 2] > 0.0)).astype(float)
    lips[np.isin(np.arange(n), outer)] = 0.6
    lips[mouth] = 1.0

    cheeks = gaussian(vertices, np.array([0.45, -0.38, 0.15]), np.array([0.2, 0.16, 0.3]))
    cheeks += gaussian(vertices, np.array([-0.45, -0.38, 0.15]), np.array([0.2, 0.16, 0.3]))
    cheeks *= face

    y, z = vertices[:, 1], vertices[:, 2]
    jaw_zone = smoothstep((-0.45 - y) / 0.25) * smoothstep((z + 0.7) / 0.3)
    moustache = gaussian(vertices, np.array([0.0, -0.5, 0.4]), np.array([0.3, 0.06, 0.3]))
    beard = np.clip(jaw_zone + moustache, 0, 1) * skin_like * (1.0 - lips)

    for loop in eye_loops:
        shade[loop] *= 0.8
    shade[part == PART_SOCKET] = 0.35
    shade[mouth] *= 0.9
    for ear, centre, frame in ear_sets:
        local = (vertices[ear] - centre) @ frame.T
        radial = (local[:, 0] / 0.17) ** 2 + ((local[:, 1] + 0.03) / 0.3) ** 2
        shade[ear] = np.where(local[:, 2] > 0, 1.0 - 0.45 * np.exp(-radial / 0.25), 0.85)
    neck = part == PART_NECK
    shade[neck] = np.where(vertices[neck, 1] > -1.0, 0.72, 0.9)

    ks16 = np.where(skin_like | (part == PART_EAR) | neck, 0.05, 0.0) + 0.10 * lips
    ks16 += 0.05 * gaussian(vertices, np.array([0.0, -0.25, 0.55]), 0.25)  # shiny nose
    ks64 = np.where(part == PART_EYEBALL, 0.9, 0.0)
    noise = np.random.default_rng(20261123).standard_normal(n)
    return {"brow": brow, "lips": lips, "cheeks": cheeks, "beard": beard, "shade": shade, "noise": noise,
            "ks16": ks16, "ks64": ks64}  # fmt: skip


def _shape_basis(vertices, part, eyeball_sets, eye_centres) -> np.ndarray:
    """16 identity displacement fields, each for a unit coefficient."""
    n = len(vertices)
    x, y, z = vertices.T
    head = part != PART_NECK
    # Eyeball vertices use their ball centre for region weights, so the balls move rigidly.
    probe = vertices.copy()
    for ball, centre in eyeball_sets:
        probe[ball] = centre
    basis = np.zeros((len(SHAPE_NAMES), n, 3))

    def region(centre, radius, mirror=False) -> np.ndarray:
        w = gaussian(probe, np.asarray(centre, float), radius)
        if mirror:
            c = np.asarray(centre, float) * [-1, 1, 1]
            w = w + gaussian(probe, c, radius)
        return w * head

    basis[0, :, 0] = 0.07 * x * head
    basis[1, :, 1] = 0.06 * (y + 0.3) * head
    basis[2, :, 2] = 0.07 * (z + 0.6) * head
    w_nose = region([0.0, -0.2, 0.4], np.array([0.18, 0.28, 0.3]))
    basis[3, :, 1] = 0.12 * (y - 0.08) * w_nose
    w_base = region([0.0, -0.33, 0.35], np.array([0.25, 0.15, 0.3]))
    basis[4, :, 0] = 0.18 * x * w_base
    w_ridge = region([0.0, -0.22, 0.55], np.array([0.15, 0.25, 0.25]))
    basis[5, :, 2] = 0.06 * w_ridge
    basis[5, :, 1] = -0.015 * w_ridge
    w_eyes = np.zeros(n)
    eye_scale = np.zeros((n, 3))
    for centre in eye_centres:
        w = gaussian(probe, centre, np.array([0.22, 0.16, 0.3])) * head
        w_eyes += w
        eye_scale += w[:, None] * (vertices - centre)
    basis[6, :, 0] = 0.035 * np.sign(x) * w_eyes
    basis[7] = 0.08 * eye_scale
    w_mouth = region([0.0, -0.64, 0.25], np.array([0.45, 0.18, 0.35]))
    basis[8, :, 0] = 0.10 * x * w_mouth
    w_lip = region([0.0, -0.64, 0.3], np.array([0.35, 0.14, 0.3]))
    basis[9, :, 1] = 0.25 * (y + 0.64) * w_lip
    basis[9, :, 2] = 0.015 * w_lip
    w_chin = smoothstep((-0.8 - y) / 0.35) * smoothstep((z + 0.6) / 0.5) * head
    basis[10, :, 1] = -0.07 * w_chin
    basis[10, :, 2] = 0.02 * w_chin
    w_jaw = smoothstep((-0.3 - y) / 0.5) * smoothstep((np.abs(x) - 0.2) / 0.4) * head
    basis[11, :, 0] = 0.06 * np.sign(x) * w_jaw
    w_cheek = region([0.5, -0.4, 0.1], np.array([0.22, 0.22, 0.3]), mirror=True)
    basis[12, :, 0] = 0.035 * np.sign(x) * w_cheek
    basis[12, :, 2] = 0.03 * w_cheek
    w_brow = region([0.33, 0.2, 0.12], np.array([0.28, 0.12, 0.3]), mirror=True)
    basis[13, :, 1] = 0.04 * w_brow
    w_ridge_b = region([0.0, 0.2, 0.2], np.array([0.6, 0.15, 0.3]))
    basis[14, :, 2] = 0.04 * w_ridge_b
    basis[15, :, 1] = 0.04 * w_mouth
    return basis


def _expression_basis(vertices, part, face_v, mouth, eye_loops, mouth_parts) -> np.ndarray:
    """Displacements at full mouth_open, smile, brow_raise and eye_close."""
    n = len(vertices)
    x, y, z = vertices.T
    movable = (part == PART_FACE) | (part == PART_SHELL) | (part == PART_MOUTH)
    basis = np.zeros((4, n, 3))

    # mouth_open: rotate the lower jaw about a pivot below the ears.
    corner_y = (face_v[78, 1] + face_v[308, 1]) / 2
    corner_x = abs(face_v[308, 0])
    gap_y = (face_v[13, 1] + face_v[14, 1]) / 2
    line = np.where(
        np.abs(x) < corner_x,
        corner_y + (gap_y - corner_y) * (1 - (x / corner_x) ** 2),
        corner_y + 0.5 * (np.abs(x) - corner_x),
    )
    jaw = smoothstep((line - y) / 0.05 + 0.3) * smoothstep((z + 0.95) / 0.5) * movable
    upper_half, lower_half = _split_loop(mouth, face_v, 13)
    jaw[mouth[upper_half]] = 0.0
    jaw[mouth[lower_half]] = 1.0
    ring1, ring2, pole = mouth_parts
    jaw[ring1] = jaw[mouth]
    jaw[ring2] = 0.6 * jaw[mouth]
    jaw[pole] = 0.3
    angle = np.deg2rad(14.0)
    pivot = np.array([0.0, -0.35, -0.6])
    rel = vertices - pivot
    rotated_y = rel[:, 1] * np.cos(angle) - rel[:, 2] * np.sin(angle)
    rotated_z = rel[:, 1] * np.sin(angle) + rel[:, 2] * np.cos(angle)
    basis[0, :, 1] = jaw * (rotated_y - rel[:, 1])
    basis[0, :, 2] = jaw * (rotated_z - rel[:, 2])

    # smile: mouth corners up and out, cheeks raised.
    for side in (-1.0, 1.0):
        corner = face_v[308] * [side, 1, 1]
        w = gaussian(vertices, corner, np.array([0.2, 0.16, 0.3])) * movable
        basis[1, :, 0] += 0.06 * side * w
        basis[1, :, 1] += 0.07 * w
        basis[1, :, 2] -= 0.02 * w
        w_cheek = (
            gaussian(vertices, np.array([side * 0.42, -0.38, 0.2]), np.array([0.2, 0.15, 0.3]))
            * movable
        )
        basis[1, :, 1] += 0.03 * w_cheek
        basis[1, :, 2] += 0.02 * w_cheek

    # brow_raise: brows and upper forehead skin up.
    w = (gaussian(vertices, np.array([0.33, 0.2, 0.1]), np.array([0.3, 0.2, 0.4]))
         + gaussian(vertices, np.array([-0.33, 0.2, 0.1]), np.array([0.3, 0.2, 0.4])))  # fmt: skip
    basis[2, :, 1] = 0.09 * np.clip(w, 0, 1) * (part == PART_FACE)

    # eye_close: upper lid loop onto the lower lid; skin above follows.
    basis[3] = _eye_close(vertices, part, face_v, eye_loops)
    return basis


def _eye_close(vertices, part, face_v, eye_loops) -> np.ndarray:
    """Displacements at full eye_close: each upper lid loop onto its lower lid, the skin
    above following with gaussian weights."""
    n = len(vertices)
    y = vertices[:, 1]
    closing = np.zeros((n, 3))
    for loop in eye_loops:
        upper, lower = _split_loop(loop, face_v, None)
        lower_v = face_v[loop[lower]]
        order = np.argsort(lower_v[:, 0])
        lid = np.zeros((n, 3))
        lid_w = np.zeros(n)
        for v in loop[upper]:
            target_y = np.interp(face_v[v, 0], lower_v[order, 0], lower_v[order, 1]) + 0.006
            delta = np.array([0.0, target_y - face_v[v, 1], 0.02])
            w = (
                gaussian(vertices, face_v[v], np.array([0.05, 0.09, 0.1]))
                * (part == PART_FACE)
                * (y >= face_v[v, 1] - 1e-9)
            )
            lid += w[:, None] * delta
            lid_w += w
        closed = np.clip(lid_w, 0.0, None)
        closing += lid / np.maximum(closed, 1.0)[:, None] * np.minimum(closed, 1.0)[:, None]
        closing[loop[upper]] = [
            [
                0.0,
                np.interp(face_v[v, 0], lower_v[order, 0], lower_v[order, 1])
                + 0.006
                - face_v[v, 1],
                0.02,
            ]
            for v in loop[upper]
        ]
    return closing


def _close_mouth(face_v: np.ndarray, mouth: np.ndarray) -> np.ndarray:
    """Displacement that lifts the lower lip onto the upper one (the asset's mouth is slightly open)."""
    upper, lower = _split_loop(mouth, face_v, 13)
    upper_v = face_v[mouth[upper]]
    order = np.argsort(upper_v[:, 0])
    below = face_v[:, 1] < np.interp(face_v[:, 0], upper_v[order, 0], upper_v[order, 1]) - 1e-6
    shift = np.zeros(len(face_v))
    total = np.zeros(len(face_v))
    for v in mouth[lower]:
        gap = np.interp(face_v[v, 0], upper_v[order, 0], upper_v[order, 1]) - 0.004 - face_v[v, 1]
        w = gaussian(face_v, face_v[v], np.array([0.06, 0.12, 0.15])) * below
        shift += w * gap
        total += w
    displacement = np.zeros_like(face_v)
    displacement[:, 1] = np.where(total > 0, shift / np.maximum(total, 1e-12), 0.0) * np.minimum(
        total, 1.0
    )
    for v in mouth[lower]:
        displacement[v, 1] = (
            np.interp(face_v[v, 0], upper_v[order, 0], upper_v[order, 1]) - 0.004 - face_v[v, 1]
        )
    return displacement


def _split_loop(
    loop: np.ndarray, vertices: np.ndarray, upper_vertex: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Split a closed lip or eye loop at its two x-extreme corners into (upper, lower) position masks."""
    xs = vertices[loop, 0]
    i0, i1 = int(np.argmin(xs)), int(np.argmax(xs))
    positions = np.arange(len(loop))
    lo, hi = min(i0, i1), max(i0, i1)
    arc = (positions > lo) & (positions < hi)
    other = ~arc
    other[[i0, i1]] = False
    if upper_vertex is not None:
        arc_is_upper = upper_vertex in loop[arc]
    else:
        arc_is_upper = vertices[loop[arc], 1].mean() > vertices[loop[other], 1].mean()
    return (arc, other) if arc_is_upper else (other, arc)
