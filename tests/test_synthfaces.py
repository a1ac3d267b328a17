"""Specification tests for the SynthFaces renderer (bench/data/synthfaces/)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from scipy import ndimage

from bench.data.synthfaces import (
    EXPRESSIONS,
    Identity,
    Renderer,
    Scene,
    landmark_image,
    raster,
    sample_clip,
)

RES = 64
FRONTAL = Scene(yaw=0.0, pitch=0.0, roll=0.0, light_elevation=20.0)
JAW_LEFT = list(range(10, 17))  # subject's left jaw: image right at frontal pose
JAW_RIGHT = list(range(7))
CENTRAL = [8] + list(range(27, 36)) + list(range(36, 48)) + list(range(48, 68))


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(RES)


def foreground(image: np.ndarray, scene: Scene) -> np.ndarray:
    """Pixels that differ from the flat background colour."""
    background = np.floor(np.asarray(scene.background) * 255 + 0.5)
    return np.abs(image.astype(float) - background).sum(-1) > 3


def test_same_seed_gives_byte_identical_images() -> None:
    scene_a = Scene.sample(np.random.default_rng(7))
    scene_b = Scene.sample(np.random.default_rng(7))
    first = Renderer(RES).render(Identity.from_seed(5), scene_a)
    second = Renderer(RES).render(Identity.from_seed(5), scene_b)
    assert first.image.tobytes() == second.image.tobytes()
    assert np.array_equal(first.landmarks, second.landmarks)
    assert np.array_equal(first.visible, second.visible)


@pytest.mark.skipif(not raster.NUMBA_AVAILABLE, reason="numba not installed")
@pytest.mark.parametrize("supersample", [1, 2])
def test_numba_and_numpy_backends_are_identical(supersample: int) -> None:
    fast = Renderer(48, supersample=supersample, backend="numba")
    slow = Renderer(48, supersample=supersample, backend="numpy")
    rng = np.random.default_rng(3)
    scenes = [Scene.sample(rng) for _ in range(5)] + [
        Scene(90.0, 30.0, 20.0, mouth_open=1.0, eye_close=1.0)
    ]
    for seed, scene in enumerate(scenes):
        identity = Identity.from_seed(seed)
        a, b = fast.render(identity, scene), slow.render(identity, scene)
        assert a.image.tobytes() == b.image.tobytes()
        assert np.array_equal(a.landmarks, b.landmarks) and np.array_equal(a.visible, b.visible)


def test_frontal_landmarks_are_68_inside_the_image_and_visible(renderer: Renderer) -> None:
    render = renderer.render(Identity.from_seed(1), FRONTAL)
    assert render.image.shape == (RES, RES, 3) and render.image.dtype == np.uint8
    assert render.landmarks.shape == (68, 2) and render.landmarks.dtype == np.float32
    assert ((render.landmarks > 0) & (render.landmarks < RES)).all()
    assert render.visible.all()
    # iBUG order: the subject's right eye (36-41) is on the image left.
    assert (
        render.landmarks[36:42, 0].mean()
        < render.landmarks[27, 0]
        < render.landmarks[42:48, 0].mean()
    )
    assert (
        render.landmarks[19, 1]
        < render.landmarks[30, 1]
        < render.landmarks[57, 1]
        < render.landmarks[8, 1]
    )


def test_far_side_points_are_hidden_when_the_head_turns(renderer: Renderer) -> None:
    identity = Identity.from_seed(2)
    right_turn = renderer.render(identity, Scene(yaw=60.0, pitch=0.0, roll=0.0))
    left_turn = renderer.render(identity, Scene(yaw=-60.0, pitch=0.0, roll=0.0))
    frontal = renderer.render(identity, FRONTAL)
    assert not right_turn.visible[JAW_LEFT].all() and right_turn.visible[JAW_RIGHT].all()
    assert not left_turn.visible[JAW_RIGHT].all() and left_turn.visible[JAW_LEFT].all()
    assert frontal.visible[CENTRAL].all()


def test_pose_sign_conventions(renderer: Renderer) -> None:
    identity = Identity.from_seed(4)
    nose = {
        yaw: renderer.render(identity, Scene(yaw, 0.0, 0.0)).landmarks[30]
        for yaw in (-30.0, 0.0, 30.0)
    }
    assert nose[-30.0][0] < nose[0.0][0] < nose[30.0][0]  # positive yaw: nose tip moves right
    up = renderer.render(identity, Scene(0.0, 20.0, 0.0)).landmarks
    assert up[30, 1] < nose[0.0][1]  # positive pitch: nose tip moves up
    rolled = renderer.render(identity, Scene(0.0, 0.0, 15.0)).landmarks
    assert rolled[45, 1] > rolled[36, 1] + 2  # positive roll: clockwise, image-right eye drops


def face_halves(
    image: np.ndarray, scene: Scene, render_landmarks: np.ndarray
) -> tuple[float, float]:
    """Mean brightness of face pixels left and right of the nose bridge."""
    mask = foreground(image, scene)
    top, bottom = int(render_landmarks[19, 1]), int(render_landmarks[8, 1])
    mask[:top] = False
    mask[bottom:] = False
    centre = round(float(render_landmarks[27, 0]))
    brightness = image.astype(float).mean(-1)
    left = brightness[:, :centre][mask[:, :centre]].mean()
    right = brightness[:, centre:][mask[:, centre:]].mean()
    return left, right


def test_shading_follows_the_light(renderer: Renderer) -> None:
    identity = Identity.from_seed(6)
    from_left = Scene(0.0, 0.0, 0.0, light_azimuth=-70.0, ambient=0.2)
    from_right = Scene(0.0, 0.0, 0.0, light_azimuth=70.0, ambient=0.2)
    render_l, render_r = renderer.render(identity, from_left), renderer.render(identity, from_right)
    left, right = face_halves(render_l.image, from_left, render_l.landmarks)
    assert left > right + 15
    left, right = face_halves(render_r.image, from_right, render_r.landmarks)
    assert right > left + 15


def test_different_identities_differ(renderer: Renderer) -> None:
    a = renderer.render(Identity.from_seed(10), FRONTAL)
    b = renderer.render(Identity.from_seed(11), FRONTAL)
    assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() > 5
    assert np.abs(a.landmarks - b.landmarks).max() > 0.5
    assert Identity.from_seed(10).as_dict() != Identity.from_seed(11).as_dict()


def test_same_identity_under_two_scenes_shares_identity(renderer: Renderer) -> None:
    person, other = Identity.from_seed(12), Identity.from_seed(13)
    scene_a, scene_b = (
        Scene(-20.0, 5.0, 0.0),
        Scene(40.0, -10.0, 5.0, smile=0.8, light_azimuth=30.0),
    )
    assert Identity.from_seed(12).as_dict() == person.as_dict()
    first = renderer.render(person, scene_b)
    renderer.render(other, scene_a)  # the per-identity cache must not leak between people
    again = renderer.render(Identity.from_seed(12), scene_b)  # cross-identity target: same bytes
    assert first.image.tobytes() == again.image.tobytes()
    assert renderer.render(person, scene_a).image.tobytes() != first.image.tobytes()


def test_mouth_open_changes_only_the_mouth_region(renderer: Renderer) -> None:
    identity = Identity.from_seed(14)
    closed = renderer.render(identity, FRONTAL)
    opened = renderer.render(identity, Scene(0.0, 0.0, 0.0, light_elevation=20.0, mouth_open=1.0))
    diff = np.abs(closed.image.astype(int) - opened.image.astype(int)).sum(-1)
    mouth_top = int(closed.landmarks[33, 1])  # below the nose
    eyes_bottom = int(closed.landmarks[36:48, 1].max()) + 1
    assert diff[mouth_top:].sum() > 2000
    assert diff[:eyes_bottom].sum() == 0
    assert opened.landmarks[66, 1] > closed.landmarks[66, 1] + 2  # inner lower lip drops
    assert abs(opened.landmarks[62, 1] - closed.landmarks[62, 1]) < 0.5  # upper lip stays


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_every_expression_changes_the_image(renderer: Renderer, expression: str) -> None:
    identity = Identity.from_seed(15)
    neutral = renderer.render(identity, FRONTAL)
    moved = renderer.render(
        identity, Scene(0.0, 0.0, 0.0, light_elevation=20.0, **{expression: 1.0})
    )
    assert neutral.image.tobytes() != moved.image.tobytes()


def test_full_pose_range_renders_without_holes(renderer: Renderer) -> None:
    identity = Identity.from_seed(16)
    for yaw in (-90.0, -45.0, 0.0, 45.0, 90.0):
        for pitch in (-30.0, 30.0):
            for roll in (-20.0, 20.0):
                scene = Scene(yaw, pitch, roll)
                render = renderer.render(identity, scene)
                mask = foreground(render.image, scene)
                assert mask.mean() > 0.25
                assert np.array_equal(ndimage.binary_fill_holes(mask), mask), (yaw, pitch, roll)
                assert np.isfinite(render.landmarks).all()


def test_landmark_image_draws_only_near_landmarks(renderer: Renderer) -> None:
    render = renderer.render(Identity.from_seed(17), Scene(20.0, 0.0, 0.0))
    sketch = landmark_image(render.landmarks, RES)
    assert sketch.shape == (RES, RES, 3) and sketch.dtype == np.uint8
    rows, cols = np.nonzero(sketch.any(-1))
    assert len(rows) > 68
    centres = np.stack([cols + 0.5, rows + 0.5], 1)
    nearest = np.linalg.norm(centres[:, None] - render.landmarks[None], axis=-1).min(1)
    longest = np.linalg.norm(np.diff(render.landmarks[:17], axis=0), axis=1).max()
    assert nearest.max() <= longest / 2 + 1.5
    assert not landmark_image(render.landmarks, RES, np.zeros(68, bool)).any()


def test_factors_are_json_serialisable_and_clips_are_smooth() -> None:
    json.dumps(Identity.from_seed(18).as_dict())
    clip = sample_clip(np.random.default_rng(0), 40)
    assert len(clip) == 40 and all(isinstance(s, Scene) for s in clip)
    json.dumps([s.as_dict() for s in clip])
    yaw = np.array([s.yaw for s in clip])
    assert np.abs(np.diff(yaw)).max() < 12.0
    assert len({s.background for s in clip}) == 1
    assert all(-90.0 <= s.yaw <= 90.0 and 0.0 <= s.mouth_open <= 1.0 for s in clip)
    assert clip[0].light == clip[0].light_azimuth


def test_renderer_pickles_and_supersampling_keeps_the_output_size(renderer: Renderer) -> None:
    clone = pickle.loads(pickle.dumps(renderer))
    identity, scene = Identity.from_seed(19), Scene(10.0, 0.0, 0.0)
    assert (
        clone.render(identity, scene).image.tobytes()
        == renderer.render(identity, scene).image.tobytes()
    )
    smooth = Renderer(RES, supersample=2).render(identity, scene)
    assert smooth.image.shape == (RES, RES, 3)
    assert np.abs(smooth.landmarks - renderer.render(identity, scene).landmarks).max() < 1e-4


def test_bad_arguments_raise_helpful_errors() -> None:
    with pytest.raises(ValueError, match="backend"):
        Renderer(RES, backend="opengl")
    with pytest.raises(ValueError, match="clip length"):
        sample_clip(np.random.default_rng(0), 0)


def drawn_segment_by_segment(landmarks: np.ndarray, resolution: int, visible=None) -> np.ndarray:
    """The reference drawing: np.linspace per segment, painted in order (the original code)."""
    import itertools

    from bench.data.synthfaces import LANDMARK_PARTS

    image = np.zeros((resolution, resolution, 3), np.uint8)
    for first, last, closed, colour in LANDMARK_PARTS:
        index = list(range(first, last + 1)) + ([first] if closed else [])
        for a, b in itertools.pairwise(index):
            if visible is not None and not (visible[a] and visible[b]):
                continue
            p, q = landmarks[a], landmarks[b]
            t = np.linspace(0.0, 1.0, int(np.ceil(2.0 * np.abs(q - p).max())) + 1)[:, None]
            points = np.floor(p + t * (q - p)).astype(np.int64)
            ok = (points >= 0).all(1) & (points < resolution).all(1)
            image[points[ok, 1], points[ok, 0]] = colour
    return image


def test_landmark_image_equals_segment_by_segment_drawing(renderer: Renderer) -> None:
    rng = np.random.default_rng(0)
    cases = [
        (renderer.render(Identity.from_seed(s), Scene(yaw, 0.0, 0.0)).landmarks, None)
        for s, yaw in enumerate((-80.0, -30.0, 0.0, 45.0, 90.0))
    ]
    for _ in range(200):  # off-image points, repeated points (zero-length segments), hidden ones
        points = rng.uniform(-0.3 * RES, 1.3 * RES, (68, 2))
        points[rng.integers(68)] = points[rng.integers(68)]
        cases.append((points, rng.random(68) > 0.2 if rng.random() < 0.5 else None))
    for points, visible in cases:
        expected = drawn_segment_by_segment(np.asarray(points, np.float64), RES, visible)
        assert np.array_equal(landmark_image(points, RES, visible), expected)
