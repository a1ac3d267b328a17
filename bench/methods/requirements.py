"""Whether each dataset's prepared data can feed what each method and protocol draws from it.

A method trains on items of ``Sampling(group, frames)``: ``frames`` images of one
identity, one video clip or one multi-view session. Which of these groupings a dataset
has follows from its layout (VoxCeleb2 and face folders have clips, Multi-PIE has
multi-view sessions, LFW and CelebA have only identities), and how many images a group
holds follows, where it is fixed at all, from the dataset's settings (VoxCeleb2's
``train_frames_per_clip``, Multi-PIE's 13 cameras). These checks run when the DAG is
built (``workflow/rules/common.smk``) and in ``python -m bench validate-config``, so a
method that needs a grouping or a group size a dataset lacks stops the run before any
job, naming the method, the dataset and the grouping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.data.registry import capabilities
from bench.errors import ConfigError
from bench.methods.api import Sampling

#: Datasets of photos without videos: the index gives each person one clip, so a test
#: tuple's ``sources: clip`` reads the person's photos (as ``identity`` does).
ONE_CLIP_PER_PERSON = frozenset({"lfw", "celeba"})
#: Multi-PIE's cameras within +-90 degrees of yaw at eye height: the views of one session.
MULTIPIE_CAMERAS = 13


@dataclass(frozen=True)
class Grouping:
    """A grouping a dataset has: the most images one group can hold, and what fixes it.

    ``images`` is None where the data decides (the photos of a person in LFW or CelebA).
    """

    images: int | None
    setting: str


def _capped(images: int | None, settings: dict[str, Any], dataset: str) -> Grouping:
    cap = settings.get("max_images_per_identity")
    if cap is not None and (images is None or cap < images):
        return Grouping(int(cap), f"{dataset}.max_images_per_identity")
    return Grouping(images, "")


def dataset_groupings(dataset: str, settings: dict[str, Any]) -> dict[str, Grouping]:
    """The training groupings of ``dataset`` prepared with ``settings`` (its config section)."""
    if capabilities(dataset).rendered:  # SynthFaces: sizes from its render settings
        clips, length = settings["clips_per_identity"], settings["clip_length"]
        views = settings.get("session_views", {})
        per_session = len(views.get("yaws", ())) + len(views.get("pitch_views", ()))
        sessions = settings.get("sessions_per_identity", 0)
        out = {
            "identity": Grouping(
                clips * length + sessions * per_session,
                "synthfaces.clips_per_identity x clip_length + sessions_per_identity x views",
            )
        }
        if length and clips:
            out["clip"] = Grouping(length, "synthfaces.clip_length")
        if sessions and per_session:
            out["session"] = Grouping(per_session, "synthfaces.session_views (yaws + pitch_views)")
        return out
    if dataset in ONE_CLIP_PER_PERSON:
        return {"identity": _capped(None, settings, dataset)}
    if dataset == "voxceleb2":
        frames = settings["train_frames_per_clip"]
        clip = _capped(frames, settings, dataset)
        identity = _capped(frames * settings["max_clips_per_speaker"], settings, dataset)
        return {
            "identity": identity,
            "clip": Grouping(clip.images, clip.setting or "voxceleb2.train_frames_per_clip"),
        }
    if dataset == "multipie":
        session = _capped(MULTIPIE_CAMERAS, settings, dataset)
        return {
            "identity": _capped(None, settings, dataset),
            "session": Grouping(
                session.images, session.setting or "multipie: 13 cameras per session"
            ),
        }
    if dataset == "aflw2000":  # evaluation only: each image is its own identity
        return {"identity": Grouping(1, "aflw2000: each image is its own identity")}
    if dataset == "folder":
        capped = _capped(None, settings, dataset)
        return {"identity": capped, "clip": capped}
    raise ConfigError(f"no groupings are known for dataset {dataset!r}")


def check_sampling_requirements(
    method: str, sampling: Sampling, dataset: str, groupings: dict[str, Grouping]
) -> None:
    """Raise ``ConfigError`` if ``dataset`` cannot give ``method`` the items it trains on."""
    if sampling.group is None:
        return
    grouping = groupings.get(sampling.group)
    if grouping is None:
        raise ConfigError(
            f"method {method!r} trains on {sampling.frames} images of one {sampling.group} "
            f"(Sampling(group={sampling.group!r})), but dataset {dataset!r} has no "
            f"{sampling.group} grouping (it has: {', '.join(sorted(groupings))}); train "
            f"{method!r} on a dataset with {sampling.group}s or leave it out there"
        )
    if grouping.images is not None and grouping.images < sampling.frames:
        raise ConfigError(
            f"method {method!r} trains on {sampling.frames} images of one {sampling.group}, "
            f"but a {sampling.group} of dataset {dataset!r} holds at most {grouping.images} "
            f"({grouping.setting}); raise that setting to at least {sampling.frames} or "
            f"lower the method's frames (K, images per item)"
        )


def test_groupings(dataset: str, settings: dict[str, Any]) -> dict[str, Grouping]:
    """The groupings of the test split, from which protocol 1 draws its K-shot tuples.

    As in training, except that VoxCeleb2's test videos hold ``test_frames`` frames spread
    over their clips, and that LFW's and CelebA's one clip per person is the person.
    """
    groupings = dict(dataset_groupings(dataset, settings))
    if dataset == "voxceleb2":
        frames = Grouping(settings["test_frames"], "voxceleb2.test_frames")
        groupings.update(identity=frames, clip=frames)
    if dataset in ONE_CLIP_PER_PERSON:
        groupings["clip"] = groupings["identity"]
    return groupings


def check_protocol_requirements(
    settings: dict[str, Any], dataset: str, groupings: dict[str, Grouping]
) -> None:
    """Raise ``ConfigError`` if protocol 1's tuples cannot be drawn from the test ``groupings``.

    A tuple takes K_max sources and a self driver from one group of ``sources`` (clip,
    session or identity): K_max + 1 images.
    """
    sources, needed = settings["sources"], max(settings["k"]) + 1
    where = f"protocols.pose_transfer (sources: {sources}, K up to {needed - 1})"
    if sources not in groupings:
        raise ConfigError(
            f"{where}: dataset {dataset!r} has no {sources} grouping to draw sources from "
            f"(it has: {', '.join(sorted(groupings))}); set sources to one of those"
        )
    grouping = groupings[sources]
    if grouping.images is not None and grouping.images < needed:
        raise ConfigError(
            f"{where}: a {sources} of dataset {dataset!r} holds at most {grouping.images} "
            f"test images ({grouping.setting}), fewer than the {needed} that K = {needed - 1} "
            f"sources and a driver need"
        )


def check_trainable(config: dict[str, Any], source: str = "config") -> None:
    """Raise ``ConfigError`` if a listed dataset is prepared evaluation-only (no train split).

    Every method of ``methods`` is trained (or, for a reference, built) on the train split
    of every dataset of ``datasets``; a folder prepared with ``folder.evaluation_only``
    (and AFLW2000-3D, always) has none, so the run would fail in its first training job.
    Such a dataset is for checking evaluators (``benchmarks/validate_head_pose.py``).
    """
    for dataset in config["datasets"]:
        if config.get(dataset, {}).get("evaluation_only") and config["methods"]:
            raise ConfigError(
                f"{source}: dataset {dataset!r} is prepared evaluation-only "
                f"({dataset}.evaluation_only: true: every identity in the test split, no train "
                f"split), but methods {', '.join(config['methods'])} are trained on every "
                f"dataset in 'datasets'; remove {dataset!r} from 'datasets' (check evaluators "
                f"on it with benchmarks/validate_head_pose.py) or set {dataset}.evaluation_only: "
                "false where it can be (a folder of enough people)"
            )


def check_requirements(config: dict[str, Any], source: str = "config") -> None:
    """Check every (dataset, method) pair and the pose-transfer protocol of a validated config."""
    from bench.methods.registry import get_method

    check_trainable(config, source)
    for dataset in config["datasets"]:
        groupings = dataset_groupings(dataset, config[dataset])
        for name in config["methods"]:
            spec = get_method(name)
            resolved = spec.resolved_config(
                config["scale"], config["method_overrides"].get(name, {})
            )
            try:
                sampling = spec.cls.sampling_for(resolved)
            except (KeyError, TypeError, ValueError) as error:
                raise ConfigError(
                    f"{source}: method {name!r} at scale {config['scale']}: sampling_for(config) "
                    f"failed on its resolved config: {type(error).__name__}: {error}"
                ) from error
            try:
                check_sampling_requirements(name, sampling, dataset, groupings)
            except ConfigError as error:
                raise ConfigError(f"{source} (scale {config['scale']}): {error}") from error
        try:
            check_protocol_requirements(
                config["protocols"]["pose_transfer"],
                dataset,
                test_groupings(dataset, config[dataset]),
            )
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from error
