"""The README's examples run against a real build and print what they promise."""

import contextlib
import io
import os
import re

import pytest

from sensetime_data.schema import ROOT_ENV


def python_blocks(readme: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", readme, re.S)


@pytest.fixture(scope="module")
def outputs(root, good_copy):
    blocks = python_blocks((root / "README.md").read_text("utf-8"))
    assert len(blocks) >= 4
    out = []
    cwd, saved = os.getcwd(), os.environ.get(ROOT_ENV)
    os.chdir(good_copy)  # the examples' relative paths (build/...) and sd.* read the good build
    os.environ[ROOT_ENV] = str(good_copy)
    try:
        for block in blocks:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(block, "README.md", "exec"), {})
            out.append(buffer.getvalue())
    finally:
        os.chdir(cwd)
        if saved is None:
            del os.environ[ROOT_ENV]
        else:
            os.environ[ROOT_ENV] = saved
    return "\n".join(out)


def test_readme_examples_show_scores_compute_and_carmakers(outputs):
    assert "internlm_123b" in outputs and "mmlu" in outputs  # the pivot of one evaluation
    assert "72.9" in outputs  # InternLM-123B's MMLU as printed in the interim deck
    assert "peak_compute" in outputs and "2.7万+" in outputs  # the compute series
    assert "BYD" in outputs and "比亚迪汽车" in outputs  # the carmakers
