"""Fixtures of the evaluation tests."""

import pytest
from eval_helpers import write_colour_bin


@pytest.fixture
def colour_bin(tmp_path):
    """A .bin with 100 pairs (alternating genuine / impostor) of colour-coded faces."""
    return write_colour_bin(tmp_path / "colour.bin")
