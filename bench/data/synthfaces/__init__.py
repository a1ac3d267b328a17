"""SynthFaces: a procedural 3D face renderer with exact identity, pose, expression and light factors.

The head is a FaceMesh-topology face mask (the committed asset ``assets/synthfaces_base.npz``,
subdivided once) closed by a back shell swept from the face oval, with eye sockets, eyeballs with
iris and pupil, a mouth cavity with teeth (an open mouth shows a real gap), ears and a neck. It is
shaded per vertex (Lambert + Blinn-Phong, Gouraud), z-buffered and projected orthographically.

Conventions
-----------
* Head frame: x = subject's left (image right at frontal pose), y up, z towards the camera.
  Rotation R = R_z(roll) @ R_x(pitch) @ R_y(yaw) about a pivot in the neck; the neck does not rotate.
* Positive **yaw** turns the face towards image-right (the nose tip moves right).
  Positive **pitch** tilts the face up (chin up, the nose tip moves up in the image).
  Positive **roll** tilts the top of the head towards image-right (clockwise in the image).
* Light: ``light_azimuth``/``light_elevation`` give the direction the light comes FROM, in camera
  space: azimuth 0 = from the camera, positive = from image-right, elevation positive = from above.
* Landmarks: the 68 iBUG points in iBUG order, projected from fixed 3D mesh vertices, so jaw
  points 0-16 are 3D surface points (AFLW2000-3D style), not the silhouette. Pixel coordinates:
  x right, y down, pixel (row r, col c) has its centre at (x=c+0.5, y=r+0.5). ``visible`` is a
  z-buffer test.
* Rendering identity A with the scene of B gives the exact cross-identity target.
* All randomness comes from ``np.random.default_rng`` with the seeds given; the same inputs give
  byte-identical images, with either backend ("numba" and "numpy" give identical uint8 output).

Speed: a ``Renderer`` is cheap to build (the template is cached per process, about 0.3 s once) and
picklable; the numba kernels are compiled with ``cache=True``. Parallelise with independent worker
processes with ``OMP_NUM_THREADS=1`` (see ``benchmarks/bench_synthfaces.py``).

The package: this module (identities, scenes, the renderer, landmark drawings), ``mesh``
(the head template built from ``assets/``) and ``raster`` (the numba / numpy kernels).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from dataclasses import asdict, dataclass

import numpy as np

from bench.data.synthfaces import raster
from bench.data.synthfaces.mesh import (
    EYE_IRIS,
    EYE_LIMBUS,
    EYE_PUPIL,
    EYE_SCLERA,
    HEAD_CENTRE,
    PART_EAR,
    PART_FACE,
    PART_MOUTH,
    PART_NECK,
    PART_SHELL,
    PART_SOCKET,
    POSE_PIVOT,
    SHAPE_NAMES,
    HeadTemplate,
    head_template,
    smoothstep,
)

log = logging.getLogger(__name__)

EXPRESSIONS: tuple[str, ...] = ("mouth_open", "smile", "brow_raise", "eye_close")
HAIR_STYLES: tuple[str, ...] = ("bald", "buzz", "short", "medium", "long")
N_SHAPE = len(SHAPE_NAMES)

FACE_SCALE = 0.37  # image heights per unit (outer eye-corner distance) -> tight face crop
FACE_CENTRE_Y = -0.22  # head-frame height that lands on the image centre
VISIBILITY_TOLERANCE = (
    0.08  # head units a landmark may lie behind the z-buffer and still count as visible
)

_SKIN_ANCHORS = np.array(
    [
        [0.97, 0.82, 0.72],
        [0.90, 0.70, 0.57],
        [0.78, 0.57, 0.42],
        [0.58, 0.39, 0.26],
        [0.38, 0.24, 0.16],
    ]
)
_HAIR_COLOURS = np.array(
    [
        [0.07, 0.06, 0.06],
        [0.20, 0.13, 0.08],
        [0.38, 0.24, 0.13],
        [0.78, 0.62, 0.38],
        [0.58, 0.24, 0.10],
        [0.62, 0.61, 0.60],
    ]
)
_HAIR_PROBS = np.array([0.28, 0.27, 0.18, 0.12, 0.07, 0.08])
_IRIS_COLOURS = np.array(
    [
        [0.30, 0.17, 0.08],
        [0.14, 0.08, 0.04],
        [0.32, 0.50, 0.72],
        [0.30, 0.48, 0.28],
        [0.48, 0.36, 0.16],
        [0.45, 0.52, 0.58],
    ]
)
_STYLE_PROBS = np.array([0.10, 0.15, 0.35, 0.25, 0.15])
# Per style: hair thickness, temple height, nape height (head-frame heights above the skull centre).
_STYLE_GEOMETRY = {
    "bald": (0.0, 0.0, 0.0),
    "buzz": (0.012, 0.05, -0.35),
    "short": (0.05, 0.0, -0.45),
    "medium": (0.09, -0.15, -0.7),
    "long": (0.12, -0.25, -0.95),
}


def _vec(values: np.ndarray) -> list[float]:
    """Round a vector for JSON."""
    return [round(float(v), 6) for v in values]


@dataclass(frozen=True, eq=False)
class Identity:
    """All identity factors of one synthetic person (exact ground truth); the identity is its seed."""

    seed: int
    shape: np.ndarray  # (16,) shape coefficients, N(0, 1) clipped to +-2, times shape_gain
    skin: np.ndarray  # (3,) skin albedo, display RGB in [0, 1]
    hair_color: np.ndarray  # (3,)
    hair_style: str  # one of HAIR_STYLES
    hairline: float  # height of the front hairline above the eye line, head units
    iris: np.ndarray  # (3,)
    lip: np.ndarray  # (3,)
    brow_strength: float  # 0..1 eyebrow darkness
    beard: float  # 0..1 stubble darkness
    blush: float  # 0..1 cheek redness
    shape_gain: float = 1.0

    @classmethod
    def from_seed(cls, seed: int, shape_gain: float = 1.0) -> Identity:
        """Sample an identity from ``np.random.default_rng([seed, 1])`` (same seed, same person)."""
        rng = np.random.default_rng([int(seed), 1])
        shape = np.clip(rng.standard_normal(N_SHAPE), -2.0, 2.0) * shape_gain
        tone = rng.uniform(0.0, len(_SKIN_ANCHORS) - 1.0)
        low = int(min(math.floor(tone), len(_SKIN_ANCHORS) - 2))
        skin = _SKIN_ANCHORS[low] + (tone - low) * (_SKIN_ANCHORS[low + 1] - _SKIN_ANCHORS[low])
        skin = np.clip(skin * rng.uniform(0.95, 1.05) + rng.normal(0.0, 0.02, 3), 0.05, 1.0)
        hair = _HAIR_COLOURS[rng.choice(len(_HAIR_COLOURS), p=_HAIR_PROBS)]
        hair = np.clip(hair * rng.uniform(0.8, 1.2) + rng.normal(0.0, 0.02, 3), 0.02, 1.0)
        style = HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=_STYLE_PROBS)]
        iris = np.clip(
            _IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))] * rng.uniform(0.8, 1.2), 0.0, 1.0
        )
        lip = np.clip(
            skin * np.array([0.92, 0.62, 0.62]) + rng.normal(0.0, 0.04, 3) + [0.05, 0.0, 0.0],
            0.05,
            1.0,
        )
        return cls(
            seed=int(seed),
            shape=shape,
            skin=skin,
            hair_color=hair,
            hair_style=style,
            hairline=float(
                rng.uniform(0.62, 1.0) if rng.uniform() > 0.15 else rng.uniform(1.0, 1.25)
            ),
            iris=iris,
            lip=lip,
            brow_strength=float(rng.uniform(0.45, 0.95)),
            beard=float(rng.uniform(0.25, 0.8) if rng.uniform() < 0.2 else 0.0),
            blush=float(rng.uniform(0.0, 0.6)),
            shape_gain=float(shape_gain),
        )

    def as_dict(self) -> dict:
        """JSON-serialisable factors."""
        out = {}
        for key, value in asdict(self).items():
            out[key] = _vec(value) if isinstance(value, np.ndarray) else value
        out["shape_names"] = list(SHAPE_NAMES)
        return out


@dataclass(frozen=True)
class Scene:
    """Everything that is not identity: pose (degrees), expression [0, 1], light and background."""

    yaw: float
    pitch: float
    roll: float
    mouth_open: float = 0.0
    smile: float = 0.0
    brow_raise: float = 0.0
    eye_close: float = 0.0
    light_azimuth: float = 0.0
    light_elevation: float = 0.0
    ambient: float = 0.35
    background: tuple[float, float, float] = (0.5, 0.55, 0.6)

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        yaw_range: tuple[float, float] = (-90.0, 90.0),
        pitch_range: tuple[float, float] = (-30.0, 30.0),
        roll_range: tuple[float, float] = (-20.0, 20.0),
    ) -> Scene:
        """Uniform pose; each expression active with probability 0.4; random light and background."""
        expression = [float(rng.uniform()) if rng.uniform() < 0.4 else 0.0 for _ in EXPRESSIONS]
        return cls(
            yaw=float(rng.uniform(*yaw_range)),
            pitch=float(rng.uniform(*pitch_range)),
            roll=float(rng.uniform(*roll_range)),
            mouth_open=expression[0],
            smile=expression[1],
            brow_raise=expression[2],
            eye_close=expression[3],
            light_azimuth=float(rng.uniform(-70.0, 70.0)),
            light_elevation=float(rng.uniform(-20.0, 50.0)),
            ambient=float(rng.uniform(0.2, 0.5)),
            background=tuple(float(v) for v in rng.uniform(0.1, 0.9, 3)),
        )

    def as_dict(self) -> dict:
        """JSON-serialisable factors."""
        out = asdict(self)
        out["background"] = list(self.background)
        return out

    @property
    def light(self) -> float:
        """Scalar light summary for index tables: the light azimuth in degrees."""
        return self.light_azimuth


_CLIP_STEPS = {  # random-walk step per keyframe, clip range
    "yaw": (20.0, None), "pitch": (8.0, None), "roll": (5.0, None),
    "mouth_open": (0.35, (0.0, 1.0)), "smile": (0.3, (0.0, 1.0)), "brow_raise": (0.3, (0.0, 1.0)),
    "eye_close": (0.35, (0.0, 1.0)), "light_azimuth": (10.0, (-70.0, 70.0)), "light_elevation": (6.0, (-20.0, 50.0)),
}  # fmt: skip


def sample_clip(
    rng: np.random.Generator,
    length: int,
    key_every: int = 12,
    turn: tuple[float, float] | None = None,
    **ranges,
) -> list[Scene]:
    """A smooth trajectory of pose, expression and light (what a video is for real data).

    Keyframes every ``key_every`` frames follow a clipped random walk and are joined by cosine
    interpolation; background and ambient stay fixed. ``ranges`` are Scene.sample's pose ranges.

    ``turn=(low, high)`` makes the clip a head turn, as in a video of a person looking from
    one side to the other: yaw moves monotonically (cosine ease in and out) from its start by
    a span drawn from U(low, high) degrees, towards the side with room for it, instead of the
    random walk; pitch, roll, expression and light still wander. The random stream of the
    other tracks is the same with or without a turn.
    """
    if length < 1:
        raise ValueError(f"clip length must be >= 1, got {length}")
    start = Scene.sample(rng, **ranges)
    limits = {
        "yaw": ranges.get("yaw_range", (-90.0, 90.0)),
        "pitch": ranges.get("pitch_range", (-30.0, 30.0)),
        "roll": ranges.get("roll_range", (-20.0, 20.0)),
    }
    n_keys = length // key_every + 2
    tracks = {}
    for name, (step, bounds) in _CLIP_STEPS.items():
        low, high = bounds if bounds is not None else limits[name]
        keys = [float(getattr(start, name))]
        for _ in range(n_keys - 1):
            keys.append(float(np.clip(keys[-1] + rng.normal(0.0, step), low, high)))
        tracks[name] = np.array(keys)
    turn_yaws = None
    if turn is not None:
        low, high = limits["yaw"]
        span = float(rng.uniform(*turn))
        span = min(span, high - low)
        towards = 1.0 if high - start.yaw >= start.yaw - low else -1.0
        first = float(
            np.clip(
                start.yaw,
                low + (span if towards < 0 else 0.0),
                high - (span if towards > 0 else 0.0),
            )
        )
        ease = 0.5 - 0.5 * np.cos(np.pi * np.arange(length) / max(length - 1, 1))
        turn_yaws = first + towards * span * ease
    frames = []
    for i in range(length):
        k, frac = divmod(i, key_every)
        w = 0.5 - 0.5 * math.cos(math.pi * frac / key_every)
        values = {
            name: float(track[k] * (1 - w) + track[k + 1] * w) for name, track in tracks.items()
        }
        if turn_yaws is not None:
            values["yaw"] = float(turn_yaws[i])
        frames.append(Scene(**values, ambient=start.ambient, background=start.background))
    return frames


#: Multi-PIE's 13 cameras of one row: yaw -90..+90 in 15-degree steps (nominal).
SESSION_YAWS: tuple[float, ...] = tuple(float(y) for y in range(-90, 91, 15))


def sample_session(
    rng: np.random.Generator,
    yaws: tuple[float, ...] = SESSION_YAWS,
    pitch_views: tuple[tuple[float, float], ...] = (
        (-30.0, -20.0),
        (0.0, -20.0),
        (30.0, -20.0),
        (-30.0, 20.0),
        (0.0, 20.0),
        (30.0, 20.0),
    ),
    jitter: float = 3.0,
) -> list[Scene]:
    """A multi-view session in Multi-PIE's shape: one scene under many cameras.

    Light, ambient level, background and expression are drawn once and shared by every view;
    the views are the cameras ``yaws`` at pitch 0 followed by ``pitch_views`` (yaw, pitch)
    pairs (Multi-PIE's elevated cameras). Each view's yaw, pitch and roll move by up to
    +-``jitter`` degrees (uniform), as a seated head does between Multi-PIE's exposures, so
    pose labels are exact but not quantised.
    """
    scene = Scene.sample(rng)
    views = [(float(y), 0.0) for y in yaws] + [(float(y), float(p)) for y, p in pitch_views]
    out = []
    for yaw, pitch in views:
        dy, dp, dr = rng.uniform(-jitter, jitter, 3)
        out.append(
            dataclasses.replace(
                scene,
                yaw=float(np.clip(yaw + dy, -90.0, 90.0)),
                pitch=float(np.clip(pitch + dp, -30.0, 30.0)),
                roll=float(np.clip(dr, -20.0, 20.0)),
            )
        )
    return out


@dataclass(frozen=True)
class Render:
    """One rendered image with its exact 68 iBUG landmarks and their visibility."""

    image: np.ndarray  # uint8 [H, W, 3]
    landmarks: np.ndarray  # float32 [68, 2] (x, y) pixels
    visible: np.ndarray  # bool [68]


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = R_z(roll) @ R_x(pitch) @ R_y(yaw) for the sign conventions of this module (degrees)."""
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array(
        [[math.cos(y), 0.0, math.sin(y)], [0.0, 1.0, 0.0], [-math.sin(y), 0.0, math.cos(y)]]
    )
    rx = np.array(
        [[1.0, 0.0, 0.0], [0.0, math.cos(p), math.sin(p)], [0.0, -math.sin(p), math.cos(p)]]
    )
    rz = np.array(
        [[math.cos(r), math.sin(r), 0.0], [-math.sin(r), math.cos(r), 0.0], [0.0, 0.0, 1.0]]
    )
    return rz @ rx @ ry


def light_direction(azimuth: float, elevation: float) -> np.ndarray:
    """Unit vector towards the light in camera space (x right, y up, z towards the camera)."""
    a, e = math.radians(azimuth), math.radians(elevation)
    return np.array([math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)])


@dataclass
class _IdentityCache:
    """Geometry and albedo of the last identity rendered (reused for scenes of the same person)."""

    identity: Identity | None = None
    vertices: np.ndarray | None = None
    albedo: np.ndarray | None = None


def identity_albedo(template: HeadTemplate, identity: Identity) -> np.ndarray:
    """Per-vertex display RGB albedo in [0, 1] for one identity."""
    t = template
    skin = identity.skin
    hair = identity.hair_color
    texture = 1.0 + 0.008 * t.noise[:, None]
    colour = skin[None, :] * texture
    blush_tint = skin * np.array([1.02, 0.78, 0.74])
    colour += (identity.blush * t.cheeks)[:, None] * (blush_tint - colour)
    colour += (identity.beard * 0.75 * t.beard)[:, None] * (hair * 0.6 + 0.02 - colour)
    colour += t.lips[:, None] * (identity.lip - colour)
    brow_colour = np.minimum(hair, skin) * 0.55 + 0.02
    colour += (identity.brow_strength * t.brow)[:, None] * (brow_colour - colour)
    hair_w = _hair_weight(t, identity)
    hair_texture = hair[None, :] * (1.0 + 0.12 * t.noise[:, None])
    colour += hair_w[:, None] * (hair_texture - colour)
    colour *= t.shade[:, None]

    part = t.part
    ear = part == PART_EAR
    colour[ear] = (skin * np.array([1.0, 0.93, 0.9]))[None, :] * t.shade[ear, None]
    neck = part == PART_NECK
    colour[neck] = skin[None, :] * 0.95 * t.shade[neck, None]
    colour[part == PART_SOCKET] = skin * np.array([0.45, 0.3, 0.3])
    eye = t.eye_class
    colour[eye == EYE_SCLERA] = [0.9, 0.87, 0.83]
    colour[eye == EYE_IRIS] = identity.iris
    colour[eye == EYE_LIMBUS] = identity.iris * 0.45
    colour[eye == EYE_PUPIL] = [0.03, 0.03, 0.035]
    mouth = np.flatnonzero(part == PART_MOUTH)
    n_ring = (len(mouth) - 1) // 2
    colour[mouth[:n_ring]] = np.where(
        t.teeth[mouth[:n_ring], None], [0.86, 0.83, 0.76], [0.35, 0.1, 0.1]
    )
    colour[mouth[n_ring:]] = [0.22, 0.06, 0.06]
    colour[mouth[-1]] = [0.08, 0.02, 0.02]
    return np.clip(colour, 0.0, 1.0)


def _hair_weight(template: HeadTemplate, identity: Identity) -> np.ndarray:
    """Per-vertex hair coverage for the identity's style and hairline."""
    if identity.hair_style == "bald":
        return np.zeros(len(template.vertices))
    _, temple, nape = _STYLE_GEOMETRY[identity.hair_style]
    front = identity.hairline - HEAD_CENTRE[1]  # hair_up is measured from the skull centre
    around = template.hair_around
    height = np.interp(
        around,
        [0.0, 0.22, 0.42, 0.55, 0.75, 1.0],
        [front, front - 0.05, temple + 0.25, temple, nape + 0.2, nape],
    )
    weight = smoothstep((template.hair_up - height) / 0.07 + 0.5)
    skin_like = (template.part == PART_FACE) | (template.part == PART_SHELL)
    weight *= skin_like
    if identity.hair_style == "buzz":
        weight *= 0.6
    return weight


def identity_vertices(template: HeadTemplate, identity: Identity) -> np.ndarray:
    """Neutral vertices of one identity: template + shape basis + hair volume."""
    displacement = (identity.shape @ template.shape_basis).reshape(-1, 3)
    vertices = template.vertices + displacement
    if identity.hair_style != "bald":
        thickness = _STYLE_GEOMETRY[identity.hair_style][0]
        vertices += (thickness * _hair_weight(template, identity))[:, None] * template.hair_normal
    return vertices


class Renderer:
    """Renders (Identity, Scene) pairs to uint8 images with exact landmarks; cheap to build and picklable."""

    def __init__(self, resolution: int = 64, supersample: int = 1, backend: str = "auto") -> None:
        if resolution < 8:
            raise ValueError(f"resolution must be >= 8, got {resolution}")
        if supersample not in (1, 2, 3, 4):
            raise ValueError(f"supersample must be 1..4, got {supersample}")
        if backend not in ("auto", "numba", "numpy"):
            raise ValueError(f"backend must be 'auto', 'numba' or 'numpy', got {backend!r}")
        if backend == "numba" and not raster.NUMBA_AVAILABLE:
            raise ImportError(
                "backend='numba' needs the numba package; install it or use backend='numpy'"
            )
        self.resolution = resolution
        self.supersample = supersample
        self.backend = (
            ("numba" if raster.NUMBA_AVAILABLE else "numpy") if backend == "auto" else backend
        )
        self.template = head_template()
        self._cache = _IdentityCache()
        self._expression = self.template.expression_basis

    def __getstate__(self) -> dict:
        """Pickle only the settings; the template is rebuilt (cached) in the receiving process."""
        return {
            "resolution": self.resolution,
            "supersample": self.supersample,
            "backend": self.backend,
        }

    def __setstate__(self, state: dict) -> None:
        """Rebuild from settings."""
        self.__init__(**state)

    def __repr__(self) -> str:
        return f"Renderer(resolution={self.resolution}, supersample={self.supersample}, backend={self.backend!r})"

    def _identity(self, identity: Identity) -> tuple[np.ndarray, np.ndarray]:
        """Geometry and linear albedo of an identity (cached for consecutive calls)."""
        cache = self._cache
        if cache.identity is not identity:
            cache.vertices = identity_vertices(self.template, identity)
            albedo = identity_albedo(self.template, identity)
            cache.albedo = albedo * albedo  # display -> linear (gamma 2)
            cache.identity = identity
        return cache.vertices, cache.albedo

    def posed_vertices(self, identity: Identity, scene: Scene) -> np.ndarray:
        """Camera-space vertices (head frame rotated about the neck pivot; neck unrotated)."""
        vertices, _ = self._identity(identity)
        weights = np.array([scene.mouth_open, scene.smile, scene.brow_raise, scene.eye_close])
        if weights.any():
            vertices = vertices + (weights @ self._expression).reshape(-1, 3)
        n_head = self.template.n_head
        rotation = rotation_matrix(scene.yaw, scene.pitch, scene.roll)
        posed = np.empty_like(vertices)
        posed[:n_head] = (vertices[:n_head] - POSE_PIVOT) @ rotation.T + POSE_PIVOT
        posed[n_head:] = vertices[n_head:]
        return posed

    def project(self, points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Orthographic projection to continuous pixel coordinates of a size x size image."""
        scale = FACE_SCALE * size
        sx = 0.5 * size + scale * points[:, 0]
        sy = 0.5 * size - scale * (points[:, 1] - FACE_CENTRE_Y)
        return sx, sy, scale * points[:, 2]

    def render(self, identity: Identity, scene: Scene) -> Render:
        """Render one image with landmarks and visibility."""
        _, albedo = self._identity(identity)
        posed = self.posed_vertices(identity, scene)
        t = self.template
        light = light_direction(scene.light_azimuth, scene.light_elevation)
        half = light + np.array([0.0, 0.0, 1.0])
        half /= np.linalg.norm(half)
        size = self.resolution * self.supersample
        sx, sy, sz = self.project(posed, size)
        background = np.asarray(scene.background, dtype=np.float64)
        if self.backend == "numba":
            colors = raster.shade_numba(
                posed, t.triangles, albedo, t.ks16, t.ks64, light, half, scene.ambient
            )
            buffer, zbuf = raster.raster_numba(
                sx, sy, sz, colors, t.triangles, size, size, background
            )
        else:
            colors = raster.shade_numpy(
                posed, t.triangles, albedo, t.ks16, t.ks64, light, half, scene.ambient
            )
            buffer, zbuf = raster.raster_numpy(
                sx, sy, sz, colors, t.triangles, size, size, background
            )
        if self.supersample > 1:
            s, r = self.supersample, self.resolution
            buffer = buffer.reshape(r, s, r, s, 3).mean(axis=(1, 3))
        image = np.floor(np.clip(buffer, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

        ids = t.ibug68
        lx, ly, lz = sx[ids], sy[ids], sz[ids]
        # Visible: not behind the z-buffer anywhere in the 3x3 pixel neighbourhood (robust at silhouettes).
        steps = np.arange(-self.supersample, self.supersample + 1, self.supersample)
        col = np.clip(
            np.floor(lx).astype(np.int64)[:, None, None] + steps[None, None, :], 0, size - 1
        )
        row = np.clip(
            np.floor(ly).astype(np.int64)[:, None, None] + steps[None, :, None], 0, size - 1
        )
        nearest = zbuf[row, col].reshape(len(ids), -1).min(1)
        inside = (lx >= 0) & (lx < size) & (ly >= 0) & (ly < size)
        tolerance = VISIBILITY_TOLERANCE * FACE_SCALE * size
        visible = inside & (lz >= nearest - tolerance)
        landmarks = np.stack([lx, ly], 1) / self.supersample
        return Render(image=image, landmarks=landmarks.astype(np.float32), visible=visible)


# iBUG-68 parts drawn by landmark_image: (first, last, closed, colour).
LANDMARK_PARTS = (
    (0, 16, False, (255, 255, 255)),
    (17, 21, False, (255, 128, 0)),
    (22, 26, False, (255, 128, 0)),
    (27, 30, False, (0, 128, 255)),
    (31, 35, False, (0, 128, 255)),
    (36, 41, True, (0, 255, 0)),
    (42, 47, True, (0, 255, 0)),
    (48, 59, True, (255, 0, 128)),
    (60, 67, True, (255, 0, 255)),
)


def _landmark_segments() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first points [S], second points [S], colours [S, 3]) of every drawn segment, in
    drawing order (a later segment paints over an earlier one)."""
    firsts, seconds, colours = [], [], []
    for first, last, closed, colour in LANDMARK_PARTS:
        index = list(range(first, last + 1)) + ([first] if closed else [])
        for a, b in itertools.pairwise(index):
            firsts.append(a)
            seconds.append(b)
            colours.append(colour)
    return np.array(firsts), np.array(seconds), np.array(colours, np.uint8)


_SEGMENTS = _landmark_segments()


def landmark_image(
    landmarks: np.ndarray, resolution: int, visible: np.ndarray | None = None
) -> np.ndarray:
    """uint8 [H, W, 3]: the 68 iBUG points drawn as coloured polylines per facial part on black.

    This is the sketch style landmark-driven methods (CainGAN, FSHM) consume. Segments with an
    invisible end point are left out when ``visible`` is given. Each segment p -> q is
    sampled at ``ceil(2 max|q - p|) + 1`` evenly spaced points (``np.linspace``'s values,
    computed for all segments at once) and floored to pixels; where segments overlap, the
    later part's colour wins.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (68, 2):
        raise ValueError(f"expected landmarks of shape (68, 2), got {landmarks.shape}")
    image = np.zeros((resolution, resolution, 3), np.uint8)
    firsts, seconds, colours = _SEGMENTS
    if visible is not None:
        keep = np.asarray(visible, bool)[firsts] & np.asarray(visible, bool)[seconds]
        firsts, seconds, colours = firsts[keep], seconds[keep], colours[keep]
    if len(firsts) == 0:
        return image
    p, q = landmarks[firsts], landmarks[seconds]
    steps = np.ceil(2.0 * np.abs(q - p).max(1)).astype(np.int64) + 1
    segment = np.repeat(np.arange(len(steps)), steps)
    position = np.arange(len(segment)) - np.repeat(np.cumsum(steps) - steps, steps)
    # np.linspace(0, 1, n): i * (1 / (n - 1)), the last value exactly 1; [0] when n == 1.
    divisor = np.maximum(steps - 1, 1).astype(np.float64)
    t = position * (1.0 / divisor)[segment]
    t[np.cumsum(steps)[steps > 1] - 1] = 1.0
    points = np.floor(p[segment] + t[:, None] * (q - p)[segment]).astype(np.int64)
    ok = (points >= 0).all(1) & (points < resolution).all(1)
    pixel = (points[ok, 1] * resolution + points[ok, 0])[::-1]
    _, last = np.unique(pixel, return_index=True)  # first in reverse = last drawn
    image.reshape(-1, 3)[pixel[last]] = colours[segment[ok][::-1][last]]
    return image


__all__ = [
    "EXPRESSIONS",
    "HAIR_STYLES",
    "Identity",
    "Render",
    "Renderer",
    "Scene",
    "landmark_image",
    "sample_clip",
    "sample_session",
]
