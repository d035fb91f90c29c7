"""Writing results: whole or nothing, and a clear error where the place cannot take them."""

import subprocess
import sys

import pytest

from tympan.errors import OutputError
from tympan.files import atomic_path, write_text


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = write_text(tmp_path / "notes.txt", "before")
    with pytest.raises(ZeroDivisionError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            1 / 0
    assert target.read_text() == "before" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_place_that_cannot_be_written_is_a_clear_error(tmp_path):
    (tmp_path / "afile").write_text("in the way")
    with pytest.raises(OutputError, match="a file is in the way of the folder .*afile"):
        write_text(tmp_path / "afile" / "notes.txt", "text")
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(OutputError, match="folder.txt: cannot write it"):
        write_text(tmp_path / "folder.txt", "text")
    result = subprocess.run([sys.executable, "-m", "tympan", "show", "activations", "--out",
                             tmp_path / "afile" / "activations.png"], capture_output=True, text=True)
    assert result.returncode == 2 and "a file is in the way" in result.stderr and "Traceback" not in result.stderr
