"""Fixtures of the deploy suite: the nginx binary, and the repository's deploy files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import REPO_ROOT, nginx_binary


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def nginx() -> str:
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (deploy/local/test.sh installs it with apt-get when run as root)")
    return binary
