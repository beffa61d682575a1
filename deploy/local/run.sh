#!/usr/bin/env bash
# Runs DriveNow on this machine without Docker: a private PostgreSQL under .drivenow/, both services under
# gunicorn, the outbox relay. Prints the URLs and tokens. Ctrl-C stops everything it started.
# Environment: DN_PG_PORT (55432), INVENTORY_PORT (3131), BOOKING_PORT (1313).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

state="$DN_ROOT/.drivenow"
pg_port="${DN_PG_PORT:-55432}"
inventory_port="${INVENTORY_PORT:-3131}"
booking_port="${BOOKING_PORT:-1313}"
mkdir -p "$state/logs"

for port in "$inventory_port" "$booking_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    dn_die "port $port is already in use (is DriveNow already running? stop it with Ctrl-C there)"
  fi
done

dn_venv
export PATH="$DN_VENV/bin:$PATH"

pids=()
cleanup() {
  trap - INT TERM EXIT
  dn_log "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$DN_PG_STARTED" = 1 ]; then dn_pg_stop "$state/pg"; fi
  dn_log "stopped"
}
interrupted=0
trap 'interrupted=1; cleanup' INT TERM
trap cleanup EXIT

dn_pg_start "$state/pg" "$pg_port"
[ "$DN_PG_STARTED" = 1 ] || dn_log "(it was already running: it stays up after Ctrl-C)"
dn_pg_createdb "$pg_port" cars_inventory_db
dn_pg_createdb "$pg_port" booking_db

# Tokens are made once and kept in .drivenow/secrets.env (git-ignored), so a second run prints the same ones.
if [ ! -f "$state/secrets.env" ]; then
  {
    echo "DN_STAFF_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
    echo "DN_SERVICE_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
  } >"$state/secrets.env"
  chmod 600 "$state/secrets.env"
fi
# shellcheck disable=SC1091
source "$state/secrets.env"

export DJANGO_SETTINGS_MODULE=config.settings.local
export INVENTORY_DB_PORT="$pg_port" BOOKING_DB_PORT="$pg_port"
export BOOKING_INVENTORY_URL="http://127.0.0.1:$inventory_port" BOOKING_INVENTORY_TOKEN="$DN_SERVICE_TOKEN"
unset PROMETHEUS_MULTIPROC_DIR  # gunicorn makes a fresh one per service

prepare() {  # prepare DIR: migrate, static files, demo data
  local dir="$1"
  (cd "$DN_ROOT/$dir" && python manage.py migrate --noinput >"$state/logs/$dir-migrate.log" \
    && python manage.py collectstatic --noinput >/dev/null \
    && python manage.py seed_demo --token "$DN_STAFF_TOKEN" >/dev/null) \
    || { tail -n 30 "$state/logs/$dir-migrate.log" >&2; dn_die "preparing $dir failed"; }
}

dn_log "preparing inventory"
prepare inventory_project
(cd "$DN_ROOT/inventory_project" && python manage.py create_service_account --token "$DN_SERVICE_TOKEN" >/dev/null)

serve() {  # serve DIR PORT NAME
  (cd "$DN_ROOT/$1" && exec gunicorn -c config/gunicorn.conf.py --bind "127.0.0.1:$2" config.wsgi) \
    >>"$state/logs/$3.log" 2>&1 &
  pids+=($!)
}
wait_up() {  # wait_up URL NAME
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1/health/live" 2>/dev/null && return
    sleep 0.2
  done
  tail -n 30 "$state/logs/$2.log" >&2
  dn_die "$2 did not start; see .drivenow/logs/$2.log"
}

serve inventory_project "$inventory_port" inventory
has_booking=false
if [ -f "$DN_ROOT/booking_project/manage.py" ]; then
  has_booking=true
  dn_log "preparing booking"
  prepare booking_project
  serve booking_project "$booking_port" booking
  (cd "$DN_ROOT/booking_project" && exec python manage.py run_outbox_relay) >>"$state/logs/relay.log" 2>&1 &
  pids+=($!)
fi
wait_up "http://127.0.0.1:$inventory_port" inventory
$has_booking && wait_up "http://127.0.0.1:$booking_port" booking

cat <<TXT

  DriveNow is running.  Ctrl-C stops it.

  Inventory  http://127.0.0.1:$inventory_port/api/v1/cars/   docs /docs  /redoc  schema /schema
             admin http://127.0.0.1:$inventory_port/admin/   metrics /metrics   health /health/ready
TXT
$has_booking && cat <<TXT
  Booking    http://127.0.0.1:$booking_port/api/v1/rentals/   docs /docs  /redoc  schema /schema
             admin http://127.0.0.1:$booking_port/admin/   metrics /metrics   health /health/ready
TXT
cat <<TXT

  Staff login (both admins)   staff / drivenow-staff
  Staff API token             export TOKEN=$DN_STAFF_TOKEN
  Booking's service token     $DN_SERVICE_TOKEN   (reservations only)
  PostgreSQL                  127.0.0.1:$pg_port, user drivenow (data in .drivenow/pg)
  Logs                        .drivenow/logs/

TXT
wait -n "${pids[@]}" || true
[ "$interrupted" = 1 ] || dn_log "a process exited on its own; see .drivenow/logs/"
