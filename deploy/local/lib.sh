# Shared by the local runner and the test command: the venv and private PostgreSQL clusters.
# Functions here end with an explicit `return 0`: a bare `return` in a function called from a trap handler (run.sh
# stops everything from one) returns the status of the command the signal interrupted, 130 after Ctrl-C, and
# `set -e` then ends the caller half-way.
# shellcheck shell=bash
set -euo pipefail

DN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DN_VENV="${DN_VENV:-$DN_ROOT/.venv}"
DN_PY="$DN_VENV/bin/python"

dn_log() { printf '\033[1m[drivenow]\033[0m %s\n' "$*" >&2; }
dn_die() { printf '[drivenow] error: %s\n' "$*" >&2; exit 1; }

# Create the venv and install the locked requirements once; reinstall only when they (or the .in files they are
# locked from, or a local package's pyproject.toml) change.
dn_venv() {
  local stamp="$DN_VENV/.drivenow-requirements"
  local want
  want="$(cat "$DN_ROOT"/requirements/*.in "$DN_ROOT"/requirements/*.txt "$DN_ROOT"/*/pyproject.toml \
    | sha256sum | cut -c1-16)"
  if [ ! -x "$DN_PY" ]; then
    dn_log "creating the virtualenv in $DN_VENV"
    python3 -m venv "$DN_VENV" || dn_die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    # pip's own output (warnings about the machine's index configuration included) goes to a log, not the terminal.
    local log="$DN_VENV/pip-install.log"
    dn_log "installing locked requirements (first run takes a minute; log: $log)"
    # Every file checked against the lock's hashes. pip takes no local path under --require-hashes, so the local
    # packages come after, without their dependencies (the lock has them; `pip check` says when it does not).
    "$DN_PY" -m pip install -q --disable-pip-version-check --require-hashes -r "$DN_ROOT/requirements/test.txt" \
      >"$log" 2>&1 || { tail -n 20 "$log" >&2; dn_die "pip install failed"; }
    "$DN_PY" -m pip install -q --disable-pip-version-check --no-deps -e "$DN_ROOT/contracts[server,testing]" \
      >>"$log" 2>&1 || { tail -n 20 "$log" >&2; dn_die "installing the local packages failed"; }
    "$DN_PY" -m pip check --disable-pip-version-check >>"$log" 2>&1 \
      || { tail -n 20 "$log" >&2; dn_die "a requirement of the local packages is not in requirements/test.txt"; }
    echo "$want" >"$stamp"
  fi
}

# The PostgreSQL binaries: pg_config's bindir, else the newest /usr/lib/postgresql/*/bin.
dn_pg_bindir() {
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir="$(pg_config --bindir)"
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  fi
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  dn_die "no PostgreSQL server binaries found (install postgresql, or put pg_config on PATH)"
}

# initdb refuses to run as root: then the cluster runs as the `postgres` system user (or `drivenow`, made here).
dn_pg_user() {
  if [ "$(id -u)" != 0 ]; then id -un; return 0; fi
  if id postgres >/dev/null 2>&1; then echo postgres; return 0; fi
  id drivenow >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin drivenow
  echo drivenow
}

# From /: PostgreSQL's programs change back to the caller's directory and complain when the cluster's user may
# not enter it (a checkout in a 700 home). Every path given here is absolute.
dn_as_pg() {
  local user; user="$(dn_pg_user)"
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u "$user" -- "$@"); else "$@"; fi
}

dn_free_port() {
  "${DN_PY:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# dn_pg_start DIR PORT: initialise (once) and start a cluster in DIR listening on 127.0.0.1:PORT.
# Every connection needs the password of user `drivenow` (scram-sha-256, also on the Unix socket): DN_PG_PASSWORD,
# which the caller keeps somewhere only its user can read. A cluster made by an earlier version with `trust` is
# given the password and switched to scram on its next start.
# Sets DN_PG_STARTED=1 when this call started it (so a caller stops only what it started).
DN_PG_STARTED=0
dn_pg_start() {
  local port="$2" bin dir; bin="$(dn_pg_bindir)"
  [ -n "${DN_PG_PASSWORD:-}" ] || dn_die "dn_pg_start: DN_PG_PASSWORD is not set"
  dir="$(dn_pg_home "$1")"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    # initdb reads the password from a file the cluster user owns (mode 600, removed at once): never from a
    # command line, which ps shows to every user.
    local pwfile="$dir/initdb-password"
    printf '%s\n' "$DN_PG_PASSWORD" | dn_as_pg sh -c 'umask 077 && cat >"$1"' sh "$pwfile"
    dn_as_pg "$bin/initdb" -D "$dir/data" -U drivenow --pwfile="$pwfile" --auth=scram-sha-256 -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { rm -f "$pwfile"; cat "$dir/initdb.log" >&2; dn_die "initdb failed"; }
    rm -f "$pwfile"
  fi
  if dn_as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    dn_log "PostgreSQL already running in $dir"
  else
    dn_as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200 -c fsync=${DN_PG_FSYNC:-on}" >/dev/null \
      || { tail -n 20 "$dir/postgres.log" >&2; dn_die "PostgreSQL did not start (port $port busy?)"; }
    DN_PG_STARTED=1
  fi
  dn_pg_require_password "$dir" "$port"
}

# dn_pg_require_password DIR PORT: a cluster initialised with `trust` (before passwords) gets DN_PG_PASSWORD and
# scram-sha-256 for every connection, then reloads its pg_hba.conf.
dn_pg_require_password() {
  local dir port="$2" bin; bin="$(dn_pg_bindir)"; dir="$(dn_pg_home "$1")"
  dn_as_pg grep -Eq '^[^#]*[[:space:]]trust([[:space:]]|$)' "$dir/data/pg_hba.conf" || return 0
  dn_log "PostgreSQL in $dir trusted every local connection: setting a password and scram-sha-256"
  local quoted="${DN_PG_PASSWORD//\'/\'\'}"
  printf "ALTER ROLE drivenow PASSWORD '%s';\n" "$quoted" \
    | dn_as_pg "$bin/psql" -h "$dir" -p "$port" -U drivenow -d postgres -qAt -v ON_ERROR_STOP=1 >/dev/null \
    || dn_die "could not set the password of PostgreSQL in $dir"
  dn_as_pg sed -i -E 's/^([^#]*[[:space:]])trust([[:space:]]|$)/\1scram-sha-256\2/' "$dir/data/pg_hba.conf"
  dn_as_pg "$bin/pg_ctl" -D "$dir/data" reload >/dev/null
}

dn_pg_stop() {
  local dir bin; bin="$(dn_pg_bindir)"
  [ -e "$1" ] || return 0
  dir="$(dn_pg_home "$1")"
  [ -f "$dir/data/PG_VERSION" ] || return 0
  dn_as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  return 0
}

# dn_pg_remove DIR: stop the cluster of DIR and delete it, wherever it lives.
dn_pg_remove() {
  [ -e "$1" ] || [ -L "$1" ] || return 0
  local home; home="$(dn_pg_home "$1")"
  dn_pg_stop "$1"
  rm -rf "$home"
  rm -rf "$1"
  return 0
}

# dn_pg_home DIR: prints where the cluster of DIR lives, made ready for the cluster user (as root, the `postgres`
# user runs it, and it must reach the directory). That is DIR itself, unless DIR is under a directory that user may
# not enter (a checkout in a home of mode 700, or in `mktemp -d`): then a directory of its own under
# /var/lib/drivenow, named for DIR, which DIR then links to. The caller's directories are never opened up.
DN_PG_HOMES="${DN_PG_HOMES:-/var/lib/drivenow}"
dn_pg_home() {
  local dir user home
  dir="$(realpath -m "$1")"  # absolute: the cluster's programs run from / (dn_as_pg)
  if [ -L "$dir" ]; then readlink -f "$dir"; return 0; fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] || { echo "$dir"; return 0; }
  user="$(dn_pg_user)"
  chown "$user" "$dir"
  if runuser -u "$user" -- test -x "$dir"; then echo "$dir"; return 0; fi
  [ ! -e "$dir/data" ] || dn_die "the $user user cannot reach the PostgreSQL cluster in $dir (let it enter the directories above)"
  home="$DN_PG_HOMES/pg-$(printf '%s' "$(cd "$dir" && pwd -P)" | sha256sum | cut -c1-16)"
  mkdir -p "$DN_PG_HOMES" "$home"
  chmod 755 "$DN_PG_HOMES"
  chown "$user" "$home"
  chmod 700 "$home"
  rm -rf "$dir" && ln -s "$home" "$dir"  # nothing of a cluster was in it (no data/): at most an old log
  echo "$home"
  return 0
}

# dn_pg_createdb PORT NAME: create the database when it does not exist yet (as `drivenow`, with DN_PG_PASSWORD).
dn_pg_createdb() {
  local port="$1" name="$2" bin; bin="$(dn_pg_bindir)"
  if ! PGPASSWORD="$DN_PG_PASSWORD" "$bin/psql" -h 127.0.0.1 -p "$port" -U drivenow -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='$name'" | grep -q 1; then
    PGPASSWORD="$DN_PG_PASSWORD" "$bin/createdb" -h 127.0.0.1 -p "$port" -U drivenow "$name"
  fi
}

# dn_secret: 40 random hex digits (letters and digits only, so it fits tokens, passwords and URLs alike).
dn_secret() {
  python3 -c 'import secrets; print(secrets.token_hex(20))'
}

# dn_apt_tool NAME PACKAGE PATH: print the path of the program NAME. When there is none and this runs as root on
# Debian/Ubuntu, installs PACKAGE with apt-get first (expecting the program at PATH), without starting any service
# the package brings. Otherwise prints how to install it and returns 1.
dn_apt_tool() {
  local name="$1" package="$2" path="$3" bin
  bin="$(command -v "$name" 2>/dev/null || true)"
  if [ -z "$bin" ] && [ -x "$path" ]; then bin="$path"; fi
  if [ -n "$bin" ]; then echo "$bin"; return 0; fi
  dn_apt_install "$name" "$package" && [ -x "$path" ] && { echo "$path"; return 0; }
  return 1
}

# dn_apt_install WHAT PACKAGE...: install the packages with apt-get as root on Debian/Ubuntu, no service of theirs
# started; otherwise (or when it fails) says how, and returns 1.
dn_apt_install() {
  local what="$1" guard=""; shift
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    dn_log "$what is not installed; install it (Debian/Ubuntu: sudo apt-get install $*) and run this again"
    return 1
  fi
  dn_log "installing $* with apt-get (no service of it is started)"
  # policy-rc.d exit 101 = "do not start services from maintainer scripts"; only while installing, only if absent.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$guard" && chmod 755 "$guard"
  fi
  local log rc=0; log="$(mktemp /tmp/drivenow-apt.XXXXXX)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >"$log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1 || rc=1
  fi
  if [ -n "$guard" ]; then rm -f "$guard"; fi
  if [ "$rc" = 0 ]; then rm -f "$log"; return 0; fi
  tail -n 5 "$log" >&2
  dn_log "installing $* failed (full log: $log)"
  return 1
}

# dn_pango: the Pango libraries WeasyPrint draws the PDF invoice with (and a font), installed when missing.
dn_pango() {
  if ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0'; then return 0; fi
  dn_apt_install "Pango (for PDF invoices)" libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
}

# dn_nginx: the gateway's nginx (the system nginx service is never started; the gateway runs with its own prefix).
dn_nginx() {
  dn_apt_tool nginx nginx /usr/sbin/nginx
}

# dn_chromium: the path of chromedriver, with Debian's Chromium beside it (package chromium, a dependency of
# chromium-driver): the headless browser of the planning board's browser test. Never a browser download.
dn_chromium() {
  local driver
  driver="$(dn_apt_tool chromedriver chromium-driver /usr/bin/chromedriver)" || return 1
  if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
    dn_log "chromedriver is at $driver but chromium is missing (apt-get install chromium)"
    return 1
  fi
  echo "$driver"
  return 0
}

# dn_port_busy PORT: true when something listens on 127.0.0.1:PORT.
dn_port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
