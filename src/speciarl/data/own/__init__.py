"""Your own data: any dataset reference that is not a shipped benchmark's name.

Everywhere a dataset is named (``speciarl data build``, a recipe's ``data.dataset`` and
``data.parts``, ``--datasets`` of the evaluation commands) the name is a *dataset reference*,
resolved in one place, :func:`speciarl.data.registry.get_dataset`:

``NAME``
    a shipped dataset (``cub200``, ``synthetic``, ...).
``PATH``
    an existing file or folder (relative to the current folder, ``~`` expanded):

    - a folder holding ``data.parquet`` and ``manifest.json`` (what ``speciarl data build``
      writes): read back with its own splits and sample ids;
    - a folder written by ``datasets``' ``save_to_disk``: as ``hub:`` below;
    - any other folder: an image folder, either ``ROOT/<split>/<class>/<image>`` (its own
      splits, whatever their names) or ``ROOT/<class>/<image>`` (a seeded split). Images are
      jpg, jpeg, png, bmp, gif, webp, tif and tiff files; hidden entries are skipped; other
      files are skipped, counted and named in the dataset's description;
    - a ``.csv``, ``.jsonl`` or ``.json`` (a list of objects) manifest: an image path column
      (``image``, ``path``, ``file``, ``filename``, ``image_path``, ``filepath``), a label
      column (``label``, ``class``, ``class_name``, ``category``, ``species``) and optionally a
      ``split`` column; relative paths are relative to the manifest's folder;
    - a ``.parquet`` file: in the built layout, read back with its sample ids; else a table as
      for ``hub:``.
``hub:ID``
    any Hugging Face dataset, by Hub id or local folder (``datasets.load_dataset``; a
    ``save_to_disk`` folder through ``load_from_disk``), with its own splits; the image column
    is the single ``Image`` column, the label column the single ``ClassLabel`` column.

Options follow a ``?`` as ``key=value`` pairs joined by ``&``: ``image=COL``, ``label=COL``,
``split=COL``, ``name=NAME`` (the dataset name in sample ids and output folders),
``test_fraction=F`` (default 0.2) and ``seed=N`` (default 0) for the seeded split. For example
``hub:someone/birds?label=fine_label`` or ``./mydata?test_fraction=0.3``. An option that does
not apply to the source is an error, not ignored.

Names and ids: the dataset name is ``?name=``, else the folder name or file stem (a built file:
its data source; ``hub:``: the last part of the id), lower-cased with anything outside
``[a-z0-9_-]`` turned into ``-``; it may not be a shipped dataset's name (unless the source is a
built file of that dataset). Sample ids are ``name/split/index``, ``index`` being the position
in the split, in source order (sorted class folders, then sorted files; table rows in order).
The seeded split gives ``train``, ``test`` and ``all``: per class, items shuffled by
``seed`` and the class id, ``round(test_fraction * n)`` to test and at least one on each side
for a class of two or more. The same files always give the same ids. No label hierarchy ships
with your own data: give one to the judge.
"""

from speciarl.data.own.resolve import resolve_reference, unknown_reference
from speciarl.data.own.source import OwnDataset

__all__ = ["OwnDataset", "resolve_reference", "unknown_reference"]
