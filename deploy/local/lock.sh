#!/usr/bin/env bash
# Re-locks the requirements: compiles each requirements/NAME.in (what we ask for, pinned, with why) into NAME.txt
# (every transitive pin, with the sha256 of each file the index has for it), which every install reads with
# --require-hashes. After editing a .in file run `make lock` and commit both; deploy/tests/test_requirements.py
# fails while a .in and its .txt disagree. Extra arguments go to every compile (e.g. --upgrade-package requests).
# The locks are for where DriveNow installs: CPython 3.11 on x86_64 Linux with glibc 2.36 (Debian 12, the image's
# slim-bookworm base), whatever machine runs this.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dn_venv
log="$DN_VENV/pip-install.log"
"$DN_PY" -m pip install -q --disable-pip-version-check --require-hashes -r "$DN_ROOT/requirements/lock.txt" \
  >>"$log" 2>&1 || { tail -n 20 "$log" >&2; dn_die "installing uv failed"; }

# In order: inventory, booking and test are constrained to base.txt, bench to test.txt.
cd "$DN_ROOT/requirements"
for name in lock base inventory booking test bench; do
  dn_log "locking requirements/$name.in -> $name.txt"
  "$DN_VENV/bin/uv" pip compile --quiet --generate-hashes --python-version 3.11 \
    --python-platform x86_64-manylinux_2_36 --custom-compile-command "make lock" \
    --output-file "$name.txt" "$name.in" "$@"
done
dn_log "locked; commit requirements/*.in and *.txt together"
