import pytest

from speciarl.data.coverage import hierarchy_coverage
from speciarl.data.registry import REGISTRY


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_dataset_ships_a_hierarchy_covering_all_its_labels(name):
    spec = REGISTRY[name]
    coverage = hierarchy_coverage(spec)
    assert coverage.labels > 0
    assert coverage.resolved == coverage.labels
    assert coverage.full <= coverage.labels
    assert spec.hierarchy().closed_world is (name == "synthetic")


def test_coverage_counts_close_ancestors():
    synthetic = hierarchy_coverage(REGISTRY["synthetic"])
    assert (synthetic.labels, synthetic.full, synthetic.synonyms) == (40, 40, 0)
