import pytest

from hierarchy_checks import (
    HIERARCHY_DATASETS,
    assert_distinct_name_keys,
    assert_each_label_is_one_node,
    cleaned_labels,
    shipped_hierarchy,
)
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
    assert (synthetic.labels, synthetic.full, synthetic.synonyms) == (48, 48, 0)


# Labels that are themselves the parent of other labels (a food category, a whole object above
# its part), and so not leaves of their hierarchy; every other label is a leaf.
PARENT_LABELS = {
    "caltech101": {
        "chair": {"windsor chair"},
        "crocodile": {"crocodile head"},
        "flamingo": {"flamingo head"},
    },
    "food101": {"dumplings": {"gyoza"}, "steak": {"filet mignon"}},
}


@pytest.mark.parametrize("name", HIERARCHY_DATASETS)
def test_every_label_is_one_node_of_the_open_world_hierarchy_file(name):
    hierarchy = shipped_hierarchy(name)
    assert hierarchy.name == name
    assert hierarchy.closed_world is False
    labels = cleaned_labels(name)
    assert_distinct_name_keys(labels)
    assert_each_label_is_one_node(hierarchy, labels, PARENT_LABELS.get(name, {}))
