"""`segflow validate` answers every hostile ruleset file with diagnostics and exit code 1, never a traceback."""

from __future__ import annotations

import pytest

from segflow.server.cli import main
from tests.rules.test_ruleset_bounds import HOSTILE


@pytest.mark.parametrize("finding, text, expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_validate_reports_a_hostile_file_at_its_line_and_column(tmp_path, capsys, finding, text, expected):
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    code, line, column = expected
    assert f"{path}:{line}:{column}: error: " in err and f": {code}: " in err
    assert "Traceback" not in err


def test_validate_a_file_that_is_not_utf8_is_exit_code_2(tmp_path, capsys):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"name: x\n\xff\xfe\n")
    assert main(["validate", str(path)]) == 2
    assert "utf-8" in capsys.readouterr().err
