"""Secret files are read only when they are small regular files; anything else is refused, located.

A device such as /dev/zero would be read without end, a FIFO would block the
loader for ever, and a huge file is not a secret: each gets a clear error at
the secret's place in config.yaml, and nothing of any content is shown.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.config import MINIMAL, load, one_problem

MAX_SECRET_BYTES = 64 * 1024  # the documented limit

WHERE = "accounts[0].credentials.client_secret"


def with_file(path: str | Path) -> str:
    return MINIMAL.replace("{env: TEST_SECRET}", "{file: " + str(path) + "}")


@pytest.mark.timeout(20)
def test_a_device_is_refused_before_it_is_read(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, with_file("/dev/zero"), env={})
    assert "character device, not a regular file" in problem.message
    assert "/dev/zero" in problem.message
    assert problem.path == WHERE and problem.line == 6


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "secret.fifo"
    os.mkfifo(fifo)
    problem = one_problem(tmp_path, with_file(fifo), env={})
    assert "FIFO" in problem.message and "not a regular file" in problem.message
    assert problem.path == WHERE


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    problem = one_problem(tmp_path, with_file("adir"), env={})
    assert "a directory, not a regular file" in problem.message
    assert problem.path == WHERE


def test_an_oversize_file_is_refused_without_its_content(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("k" * (MAX_SECRET_BYTES + 1))
    problem = one_problem(tmp_path, with_file("big.txt"), env={})
    assert "larger than 64 KiB" in problem.message
    assert "kkkk" not in str(problem)
    assert problem.path == WHERE


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    (tmp_path / "edge.txt").write_text("s" * MAX_SECRET_BYTES)
    config = load(tmp_path, with_file("edge.txt"), env={})
    assert config.accounts[0].secret_values() == ("s" * MAX_SECRET_BYTES,)


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("linked-secret\n")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    config = load(tmp_path, with_file("link.txt"), env={})
    assert config.accounts[0].secret_values() == ("linked-secret",)


@pytest.mark.timeout(20)
def test_a_systemd_credential_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    os.mkfifo(creds / "mimecast")
    text = MINIMAL.replace("{env: TEST_SECRET}", "{credential: mimecast}")
    problem = one_problem(tmp_path, text, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert "systemd credential 'mimecast'" in problem.message and "FIFO" in problem.message
