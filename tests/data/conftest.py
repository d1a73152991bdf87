"""Fixtures for the data-format tests (helpers live in data_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_helpers import write_folder


@pytest.fixture
def small_folder(tmp_path: Path) -> tuple[Path, list[tuple[Path, int]]]:
    root = tmp_path / "faces"
    return root, write_folder(root, [3, 1, 4, 2])
