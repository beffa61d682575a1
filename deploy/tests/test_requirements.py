"""The requirement locks hold to what we ask for: requirements/NAME.in (pinned, with why) is compiled by `make lock`
into NAME.txt (every transitive pin, each with its hashes), and every install reads the .txt with --require-hashes.
These fail when a .in was edited and not re-locked, or a .txt was edited by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stack import REPO_ROOT

REQUIREMENTS = REPO_ROOT / "requirements"
INS = sorted(REQUIREMENTS.glob("*.in"))
LOCKS = sorted(REQUIREMENTS.glob("*.txt"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9,._ -]*\])?==([^\s;\\]+)\s*(;[^\\]*)?$")
# Which lock another one must agree with, package by package: the tests run what the images ship, and the load test
# installs into the test virtualenv.
AGREES_WITH = {"inventory": "base", "booking": "base", "test": "base", "bench": "test"}
FIX = "run `make lock` and commit requirements/*.in and *.txt together"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(path: Path) -> list[str]:
    """The lines of a requirements file with backslash continuations joined (comments stay lines of their own)."""
    lines, pending = [], ""
    for raw in path.read_text().splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def asked(path: Path, *, follow: bool = True) -> dict[str, str]:
    """The pins of a .in file, {canonical name: version}, with those of the .in files it includes (-r)."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-c"):
            continue
        if line.startswith("-r"):
            if follow:
                pins.update(asked(path.parent / line[2:].strip()))
            continue
        match = PIN.match(line)
        assert match, f"requirements/{path.name}: `{line}` is not pinned with == (ask for exact versions)"
        pins[canonical(match[1])] = match[3]
    return pins


@dataclass
class Locked:
    version: str
    hashes: list[str]
    via: list[str] = field(default_factory=list)  # the lines of its `# via` annotation


def locked(path: Path) -> dict[str, Locked]:
    """The packages of a .txt lock, {canonical name: Locked}."""
    packages: dict[str, Locked] = {}
    current: Locked | None = None
    for line in logical_lines(path):
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            if current is not None and line.startswith((" ", "\t")):  # an annotation of the package above
                current.via.append(text.lstrip("#").strip().removeprefix("via").strip())
            continue
        requirement, *options = text.split(" --")
        assert not requirement.startswith("-"), f"requirements/{path.name}: `{text[:80]}` in a lock"
        match = PIN.match(requirement.strip())
        assert match, f"requirements/{path.name}: `{requirement}` is not an exact pin"
        options = [option.strip() for option in options]
        hashes = [option.removeprefix("hash=sha256:") for option in options if option.startswith("hash=sha256:")]
        assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in hashes), f"{path.name}: {requirement}"
        current = packages[canonical(match[1])] = Locked(match[3], hashes)
    return packages


def test_every_in_file_has_its_lock_and_every_lock_its_in_file():
    assert INS, "no requirements/*.in"
    assert {path.stem for path in INS} == {path.stem for path in LOCKS}, FIX


@pytest.mark.parametrize("path", LOCKS, ids=lambda path: path.name)
def test_every_locked_package_is_pinned_with_its_hashes(path):
    packages = locked(path)
    assert packages, f"requirements/{path.name} locks nothing"
    unhashed = [name for name, package in packages.items() if not package.hashes]
    assert not unhashed, f"requirements/{path.name}: no --hash=sha256: for {', '.join(unhashed)} ({FIX})"


@pytest.mark.parametrize("path", INS, ids=lambda path: path.name)
def test_the_lock_pins_what_the_in_file_asks_for(path):
    lock = locked(path.with_suffix(".txt"))
    for name, version in asked(path).items():
        assert name in lock, f"requirements/{path.name} asks for {name}=={version}; {path.stem}.txt lacks it: {FIX}"
        assert lock[name].version == version, (
            f"requirements/{path.name} asks for {name}=={version}; {path.stem}.txt locks {lock[name].version}: {FIX}"
        )


@pytest.mark.parametrize("path", INS, ids=lambda path: path.name)
def test_the_lock_has_nothing_the_in_file_no_longer_asks_for(path):
    # The compiler notes `-r NAME.in` under each package a .in file asks for by name: each must still be asked for.
    for name, package in locked(path.with_suffix(".txt")).items():
        for via in package.via:
            if via.startswith("-r "):
                source = path.parent / via[3:].strip()
                assert name in asked(source, follow=False), (
                    f"requirements/{path.stem}.txt locks {name} for {source.name}, which no longer asks for it: {FIX}"
                )


@pytest.mark.parametrize(("name", "other"), sorted(AGREES_WITH.items()))
def test_locks_installed_together_agree_on_every_version(name, other):
    lock, reference = locked(REQUIREMENTS / f"{name}.txt"), locked(REQUIREMENTS / f"{other}.txt")
    differ = {
        package: (lock[package].version, reference[package].version)
        for package in lock.keys() & reference.keys()
        if lock[package].version != reference[package].version
    }
    assert not differ, f"{name}.txt and {other}.txt disagree (name: ({name}, {other})): {differ}; {FIX}"


def test_the_checks_above_catch_an_edit_that_was_not_locked(tmp_path):
    """A bumped, added or dropped pin in a .in file, against the lock as it was."""
    (tmp_path / "base.txt").write_text((REQUIREMENTS / "base.txt").read_text())
    original = (REQUIREMENTS / "base.in").read_text()
    django = re.search(r"^Django==(\S+)$", original, re.M)
    assert django, "base.in asks for Django"
    edits = {
        "bumped": original.replace(f"Django=={django[1]}", "Django==0.0.1"),
        "added": original + "left-pad==1.0\n",
        "dropped": original.replace(f"Django=={django[1]}\n", ""),
    }
    for edit, text in edits.items():
        (tmp_path / "base.in").write_text(text)
        with pytest.raises(AssertionError):
            test_the_lock_pins_what_the_in_file_asks_for(tmp_path / "base.in")
            test_the_lock_has_nothing_the_in_file_no_longer_asks_for(tmp_path / "base.in")
            pytest.fail(f"an unlocked {edit} pin passed")  # not an AssertionError: it escapes the raises
