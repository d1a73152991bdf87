"""docs/results.md: every generated table equals what the committed records give (tools/results_doc.py)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "results_doc.py"


def _tool():
    spec = importlib.util.spec_from_file_location("results_doc", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_doc_tables_come_from_the_committed_records():
    tool = _tool()
    text = tool.DOC.read_text()
    assert len(tool.BLOCK.findall(text)) >= 4
    assert tool.regenerate(text) == text, "docs/results.md is out of date: run python tools/results_doc.py"


def test_an_edited_number_is_put_back_and_check_fails(tmp_path):
    tool = _tool()
    text = tool.DOC.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| 1_arcface | ") and " ± " in line)
    edited = text.replace(row, row.replace(" ± ", " ± 9", 1), 1)
    assert edited != text
    assert tool.regenerate(edited) == text
    doc = tmp_path / "results.md"
    doc.write_text(edited)
    assert tool.main([str(doc), "--check"]) == 1
    assert tool.main([str(doc)]) == 0 and doc.read_text() == text


def test_bad_block_specs_name_the_problem():
    tool = _tool()
    with pytest.raises(ValueError, match="dataset=NAME"):
        tool.render_block("results/ablation sections=metrics")
    with pytest.raises(ValueError, match="no records of dataset"):
        tool.render_block("results/ablation dataset=nope")
    with pytest.raises(ValueError, match="unknown report section"):
        tool.render_block("results/ablation dataset=default sections=metrics,plots")
    with pytest.raises(ValueError, match="row=NAME"):
        tool.render_block("results/ablation dataset=default sections=conclusion")
    with pytest.raises(ValueError, match="no row '1_arcface' to compare"):
        tool.render_block("results/ablation dataset=default row=1_arcface sections=conclusion")
