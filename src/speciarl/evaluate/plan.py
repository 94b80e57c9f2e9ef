"""What ``predict`` will do, and every check of it that needs no GPU, done before it starts.

A plan is checked as a whole (backend, model, adapter, then every dataset's samples) so that a
typo in the fifth dataset's root stops the run before the first dataset is predicted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from speciarl.data.errors import DatasetError
from speciarl.data.sample import ImageReadError, Sample
from speciarl.evaluate.predict import GenerationSettings
from speciarl.evaluate.preflight import check_backend
from speciarl.policy.checkpoint import check_checkpoint
from speciarl.policy.image_budget import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, ImageBudget

if TYPE_CHECKING:
    from speciarl.data.registry import DatasetSpec

_GENERATION_FIELDS = {"n", "temperature", "top_p", "max_new_tokens", "seed", "batch_size", "prompt"}


@dataclass(frozen=True)
class EvalPlan:
    """Which policy, which data, how to decode, at how many pixels per image; its `settings`
    go into the folder's manifest."""

    model: str
    adapter: str | None
    datasets: tuple[str, ...]
    split: str
    subset: int | None
    root: str | None
    source: str
    backend: str
    generation: GenerationSettings
    image_budget: ImageBudget

    @classmethod
    def create(
        cls,
        *,
        datasets: str,
        backend: str,
        root: Path | None = None,
        min_pixels: int | None = DEFAULT_MIN_PIXELS,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        **options: Any,
    ) -> EvalPlan:
        """A plan from command-line values; option names and values are checked, files not.
        The image budget defaults to the training recipes' (`speciarl.policy.image_budget`)."""
        names = tuple(dict.fromkeys(name.strip() for name in datasets.split(",") if name.strip()))
        if not names:
            raise ValueError("--datasets: give at least one dataset (--datasets a,b)")
        budget = ImageBudget(min_pixels, max_pixels)
        problem = budget.problem("--min-pixels", "--max-pixels")
        if problem is not None:
            raise ValueError(problem)
        generation = GenerationSettings(
            **{k: v for k, v in options.items() if k in _GENERATION_FIELDS}
        )
        rest = {k: v for k, v in options.items() if k not in _GENERATION_FIELDS}
        plan = cls(
            datasets=names,
            backend=backend,
            root=str(root) if root else None,
            generation=generation,
            image_budget=budget,
            **rest,
        )
        plan._check_names()
        return plan

    def _check_names(self) -> None:
        """Every dataset reference resolves, has the split, and gets a name of its own (the
        name of its output folder)."""
        from speciarl.data.registry import SOURCES

        if self.source not in SOURCES:
            raise ValueError(f"--source {self.source!r}: choose one of {', '.join(SOURCES)}")
        named: dict[str, str] = {}
        for reference, spec in self._specs.items():
            if self.split not in spec.splits:
                raise ValueError(
                    f"--split {self.split}: {reference} has no such split "
                    f"(it has {', '.join(spec.splits)})"
                )
            if spec.name in named:
                raise ValueError(
                    f"--datasets: {named[spec.name]} and {reference} both resolve to the dataset "
                    f"name {spec.name!r} (the name of its output folder); rename one with "
                    "?name=NAME"
                )
            named[spec.name] = reference
        if self.subset is not None and self.subset < 1:
            raise ValueError(f"--subset {self.subset}: give a positive number of images")

    @cached_property
    def _specs(self) -> dict[str, DatasetSpec]:
        """Each reference resolved once: a user's folder is listed, a ``hub:`` set loaded."""
        return {reference: _resolve(reference) for reference in self.datasets}

    def settings(self) -> dict[str, Any]:
        """What makes predictions comparable; batch size, root and dataset list do not."""
        generation = asdict(self.generation)
        generation.pop("batch_size")
        return {
            "model": self.model,
            "adapter": self.adapter,
            "split": self.split,
            "subset": self.subset,
            "source": self.source,
            "backend": self.backend,
            "generation": generation,
            "image_budget": asdict(self.image_budget),
        }

    def check(self) -> dict[str, list[Sample]]:
        """Check the backend, the model and adapter, and load every dataset's sample list.

        Loaders read the annotation files, and one image per dataset is read to see that the
        images are there too, so this is cheap; the samples returned are what the run predicts.
        They are keyed by each dataset's resolved name (``speciarl.data.registry.DatasetSpec.name``,
        the output folder's name), which for a reference such as ``./photos?name=birds`` is not
        the text given.
        """
        check_backend(self.backend)
        check_checkpoint(self.model, "--model", "config.json")
        if self.adapter is not None:
            check_checkpoint(self.adapter, "--adapter", "adapter_config.json")
        return dict(self._samples(reference) for reference in self.datasets)

    def _samples(self, reference: str) -> tuple[str, list[Sample]]:
        """The dataset's name and samples, as `speciarl.data.prepare.select_samples` gives them,
        with errors that name the option. ``--root`` and ``--source`` apply to shipped datasets;
        the user's own data is read from its reference."""
        from speciarl.data.subsets import take_subset

        spec = self._specs[reference]
        name = reference
        root = Path(self.root) if self.root else None
        if spec.reference is not None:
            where = f"--datasets {reference}"
        elif self.source == "local":
            if root is None and spec.needs_root:
                raise ValueError(f"--root: {name} is read from its dataset folder; give --root DIR")
            where = f"--root {root}"
        else:
            where = "--source hub"
        try:
            samples = spec.load_shared(self.split, root=root, source=self.source)
        except DatasetError as error:
            raise ValueError(f"{where}: {error}") from None
        if self.subset is not None and self.subset > len(samples):
            raise ValueError(
                f"--subset {self.subset}: {name} {self.split} has only {len(samples)} images"
            )
        if self.subset is not None:
            samples = take_subset(samples, self.subset, seed=self.generation.seed)
        try:  # annotations without their images: a root that is only half there
            samples[0].image_bytes()
        except ImageReadError as error:
            raise ValueError(f"{where}: {error}") from None
        return spec.name, samples


def _resolve(reference: str) -> DatasetSpec:
    """A ``--datasets`` entry's spec; a reference that does not resolve names the option."""
    from speciarl.data.registry import get_dataset

    try:
        return get_dataset(reference)
    except DatasetError as error:
        raise ValueError(f"--datasets: {error}") from None
