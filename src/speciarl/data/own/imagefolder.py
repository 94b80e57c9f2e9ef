"""A folder of images sorted into one folder per class, the layout most people already have.

Two layouts: ``ROOT/<split>/<class>/<image>`` (the folder's own splits, whatever their names)
and ``ROOT/<class>/<image>`` (split by seed). Anything the layout does not explain (an image
beside class folders, a class folder without images, deeper folders) is an error naming the
folder, since guessing would give wrong labels; other files are skipped but counted and named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from speciarl.data.errors import DatasetError
from speciarl.data.own.labels import checked_label, checked_split_name, clean_folder_label
from speciarl.data.own.reference import Reference
from speciarl.data.own.source import Item, OwnDataset, ignored_note, make_dataset, split_items
from speciarl.data.sample import file_reader

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


@dataclass
class _Listing:
    """A folder's visible entries: subfolders, image files, other files."""

    folders: list[Path] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)
    others: list[Path] = field(default_factory=list)


def _list(folder: Path) -> _Listing:
    """Hidden entries (``.git``, ``.DS_Store``, ``._x.jpg``) are not part of the data."""
    listing = _Listing()
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            listing.folders.append(entry)
        elif is_image(entry):
            listing.images.append(entry)
        else:
            listing.others.append(entry)
    return listing


def load_image_folder(root: Path, reference: Reference, name: str) -> OwnDataset:
    """The items of ``root`` in sorted class, then file, order; see the module docstring."""
    options = reference.options
    options.refuse(("image", "label", "split"), "an image folder has no columns", reference.text)
    top = _list(root)
    if not top.folders:
        raise DatasetError(
            f"{reference.text}: no class folders in {root} (expected ROOT/<class>/<image> or "
            "ROOT/<split>/<class>/<image>)"
        )
    if top.images:
        raise DatasetError(
            f"{reference.text}: {top.images[0]} is an image directly in {root}, beside class "
            "folders; move it into its class folder"
        )
    ignored = [str(path) for path in top.others]
    listings = {folder: _list(folder) for folder in top.folders}
    by_split = all(listing.folders and not listing.images for listing in listings.values())
    items: list[Item] = []
    if by_split:
        for split_folder, listing in listings.items():
            split = checked_split_name(split_folder.name, f"{reference.text}: {split_folder}")
            ignored += [str(path) for path in listing.others]
            for class_folder in listing.folders:
                items += _class_items(class_folder, split, reference.text, ignored)
        kind = f"image folder with split folders at {root}"
    else:
        for class_folder, listing in listings.items():
            items += _class_items(class_folder, None, reference.text, ignored, listing)
        kind = f"image folder with class folders at {root}"
    samples, note = split_items(name, items, options, reference.text)
    return make_dataset(
        name,
        reference.text,
        f"{kind}, {note}",
        samples,
        fallback_clean=clean_folder_label,
        notes=ignored_note(ignored),
    )


def _class_items(
    folder: Path,
    split: str | None,
    reference: str,
    ignored: list[str],
    listing: _Listing | None = None,
) -> list[Item]:
    """One class folder's images; its name is the raw class id, cleaned into the label."""
    listing = listing or _list(folder)
    if listing.folders:
        raise DatasetError(
            f"{reference}: {folder} holds folders ({listing.folders[0].name}, ...); a class "
            "folder must hold images only (ROOT/<class>/<image> or ROOT/<split>/<class>/<image>)"
        )
    if not listing.images:
        raise DatasetError(f"{reference}: class folder {folder} holds no images")
    ignored += [str(path) for path in listing.others]
    class_id = folder.name
    label = checked_label(clean_folder_label(class_id), class_id, f"{reference}: {folder}")
    return [Item(class_id, label, file_reader(path), str(path), split) for path in listing.images]
