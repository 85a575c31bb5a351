"""A report links only the images it wrote."""

from __future__ import annotations

from pathlib import Path

from eval.report import image_lines


def test_image_lines_name_only_files_that_exist(tmp_path: Path) -> None:
    (tmp_path / "rates.png").write_bytes(b"png")
    lines = image_lines(tmp_path, [("rates", "rates.png"), ("differences", "ci_bars.png")])
    assert lines == ["![rates](rates.png)", ""]
