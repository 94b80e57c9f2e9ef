"""Errors of the data layer, each naming the dataset, split, file or sample it is about."""


class DatasetError(ValueError):
    """A dataset that cannot be loaded as asked: unknown name or split, missing root or file,
    malformed annotation, empty split."""
