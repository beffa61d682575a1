#!/usr/bin/env bash
# Runs DriveNow on this machine without Docker: a private PostgreSQL under .drivenow/, two gunicorn instances of
# each service, the outbox relay, and nginx as the gateway in front of them on one port. Prints the URLs and
# tokens and the staff login. Ctrl-C (also SIGTERM, or closing the terminal) stops everything it started, and the
# checkout's PostgreSQL also when an earlier run left it running. The terminal shows only its own lines; every
# process logs into .drivenow/logs/.
# Environment: DN_PG_PORT (55432), GATEWAY_PORT (8080; the internal listener booking uses is GATEWAY_PORT+1),
# INVENTORY_PORT (3131), BOOKING_PORT (1313), DN_INSTANCES (2: instance i listens on PORT+i),
# DN_STATE_DIR (.drivenow: the cluster, secrets, logs and the gateway's files).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

state="${DN_STATE_DIR:-$DN_ROOT/.drivenow}"
pg_port="${DN_PG_PORT:-55432}"
gateway_port="${GATEWAY_PORT:-8080}"
internal_port="$((gateway_port + 1))"
inventory_port="${INVENTORY_PORT:-3131}"
booking_port="${BOOKING_PORT:-1313}"
instances="${DN_INSTANCES:-2}"
mkdir -p "$state/logs"

inventory_ports=() booking_ports=()
for i in $(seq 0 $((instances - 1))); do
  inventory_ports+=($((inventory_port + i)))
  booking_ports+=($((booking_port + i)))
done

has_booking=false
[ -f "$DN_ROOT/booking_project/manage.py" ] && has_booking=true

# The gateway: nginx from the machine, installed with apt-get when missing and this runs as root.
has_gateway=false
if nginx_bin="$(dn_nginx)"; then
  has_gateway=true
else
  dn_log "WARNING: running WITHOUT the gateway: each service only on its own ports"
fi

# Booking prints PDF invoices with WeasyPrint, which needs Pango: installed when missing (else only HTML invoices).
$has_booking && { dn_pango || dn_log "WARNING: no Pango: invoices are HTML only (PDF answers 503 pdf_unavailable)"; }

busy_ports=("${inventory_ports[@]}")
$has_booking && busy_ports+=("${booking_ports[@]}")
$has_gateway && busy_ports+=("$gateway_port" "$internal_port")
for port in "${busy_ports[@]}"; do
  if dn_port_busy "$port"; then
    dn_die "port $port is already in use (is DriveNow already running? stop it with Ctrl-C there)"
  fi
done

dn_venv
export PATH="$DN_VENV/bin:$PATH"

# Everything this run starts, and the checkout's PostgreSQL (also when an earlier run left it running: nobody
# else stops it), is stopped on the way out, whatever the way: Ctrl-C (SIGINT, which a terminal sends to the
# whole foreground process group), SIGTERM, a closed terminal (SIGHUP), or a process that exits on its own.
pids=()
pg_ours=0
cleanup() {
  trap - INT TERM HUP EXIT
  trap '' INT TERM HUP  # a second Ctrl-C must not cut the cleanup short
  set +e                # nor a step that fails: every later one still runs
  dn_log "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$pg_ours" = 1 ]; then dn_pg_stop "$state/pg"; fi
  dn_log "stopped"
}
interrupted=0
on_signal() {  # on_signal EXIT_CODE
  interrupted=1
  cleanup
  exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP
trap cleanup EXIT

# Secrets are made once and kept in .drivenow/secrets.env (git-ignored, mode 600 from its first byte), so a second
# run prints the same ones: the API tokens, the staff password of both admins, PostgreSQL's password.
if [ ! -f "$state/secrets.env" ]; then
  (umask 077 && : >"$state/secrets.env")
fi
chmod 600 "$state/secrets.env"
for name in DN_STAFF_TOKEN DN_SERVICE_TOKEN DN_STAFF_PASSWORD DN_PG_PASSWORD; do
  grep -q "^$name=" "$state/secrets.env" || echo "$name=$(dn_secret)" >>"$state/secrets.env"
done
# shellcheck disable=SC1091
source "$state/secrets.env"
export DN_PG_PASSWORD

pg_ours=1
dn_pg_start "$state/pg" "$pg_port"
[ "$DN_PG_STARTED" = 1 ] || dn_log "(left running by an earlier run: it is stopped with everything else)"
dn_pg_createdb "$pg_port" cars_inventory_db
dn_pg_createdb "$pg_port" booking_db

# Booking reaches inventory through the gateway's internal listener: load-balanced over both inventory
# instances, with retries, so losing one instance does not stop rentals.
if $has_gateway; then
  inventory_for_booking="http://127.0.0.1:$internal_port"
else
  inventory_for_booking="http://127.0.0.1:$inventory_port"
fi
export DJANGO_SETTINGS_MODULE=config.settings.local
export INVENTORY_DB_PORT="$pg_port" BOOKING_DB_PORT="$pg_port"
export INVENTORY_DB_PASSWORD="$DN_PG_PASSWORD" BOOKING_DB_PASSWORD="$DN_PG_PASSWORD"
export BOOKING_INVENTORY_URL="$inventory_for_booking" BOOKING_INVENTORY_TOKEN="$DN_SERVICE_TOKEN"
unset PROMETHEUS_MULTIPROC_DIR  # gunicorn makes a fresh one per instance
# A person pressing Ctrl-C waits for the slowest worker: a few seconds for requests in flight, not gunicorn's 20.
export GUNICORN_GRACEFUL_TIMEOUT="${GUNICORN_GRACEFUL_TIMEOUT:-5}"

prepare() {  # prepare DIR: migrate, static files, demo data (their output, logging included, goes to the log)
  local dir="$1" log="$state/logs/$1-prepare.log"
  (cd "$DN_ROOT/$dir" && python manage.py migrate --noinput \
    && python manage.py collectstatic --noinput \
    && DRIVENOW_STAFF_PASSWORD="$DN_STAFF_PASSWORD" python manage.py seed_demo --token "$DN_STAFF_TOKEN") >"$log" 2>&1 \
    || { tail -n 30 "$log" >&2; dn_die "preparing $dir failed; see $log"; }
}

serve() {  # serve DIR PORT NAME (no control socket: several gunicorns of one user would share ~/.gunicorn/)
  (cd "$DN_ROOT/$1" && exec gunicorn -c config/gunicorn.conf.py --bind "127.0.0.1:$2" config.wsgi) \
    >>"$state/logs/$3.log" 2>&1 &
  pids+=($!)
}
wait_up() {  # wait_up URL NAME
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return
    sleep 0.2
  done
  tail -n 30 "$state/logs/$2.log" >&2
  dn_die "$2 did not start; see .drivenow/logs/$2.log"
}

dn_log "preparing inventory"
prepare inventory_project
(cd "$DN_ROOT/inventory_project" && python manage.py create_service_account --token "$DN_SERVICE_TOKEN") \
  >>"$state/logs/inventory_project-prepare.log" 2>&1 || dn_die "creating booking's service account failed"
for port in "${inventory_ports[@]}"; do serve inventory_project "$port" "inventory-$port"; done

if $has_booking; then
  dn_log "preparing booking"
  prepare booking_project
  for port in "${booking_ports[@]}"; do serve booking_project "$port" "booking-$port"; done
  (cd "$DN_ROOT/booking_project" && exec python manage.py run_outbox_relay) >>"$state/logs/relay.log" 2>&1 &
  pids+=($!)
fi

if $has_gateway; then
  # nginx with a private prefix: its config, pid, logs and temp dirs all live in .drivenow/nginx/.
  gw="$state/nginx"
  render_args=(local --state-dir "$gw" --listen "127.0.0.1:$gateway_port" --internal-listen "127.0.0.1:$internal_port"
    --out "$gw/nginx.conf")
  for port in "${inventory_ports[@]}"; do render_args+=(--inventory "127.0.0.1:$port"); done
  for port in "${booking_ports[@]}"; do render_args+=(--booking "127.0.0.1:$port"); done
  python "$DN_ROOT/deploy/gateway/render.py" "${render_args[@]}"
  "$nginx_bin" -t -q -p "$gw" -c "$gw/nginx.conf" -e "$gw/logs/error.log" >>"$state/logs/gateway.log" 2>&1 \
    || { tail -n 5 "$state/logs/gateway.log" >&2; dn_die "the generated gateway config is invalid: $gw/nginx.conf"; }
  (exec "$nginx_bin" -p "$gw" -c "$gw/nginx.conf" -e "$gw/logs/error.log" -g 'daemon off;') >>"$state/logs/gateway.log" 2>&1 &
  pids+=($!)
fi

for port in "${inventory_ports[@]}"; do wait_up "http://127.0.0.1:$port/health/live" "inventory-$port"; done
if $has_booking; then
  for port in "${booking_ports[@]}"; do wait_up "http://127.0.0.1:$port/health/live" "booking-$port"; done
fi
$has_gateway && wait_up "http://127.0.0.1:$gateway_port/gateway/health" gateway
if $has_booking; then
  # A fortnight of demo bookings, made through inventory now that both are up (once: it skips when they exist).
  (cd "$DN_ROOT/booking_project" && python manage.py seed_demo_bookings) >>"$state/logs/booking_project-prepare.log" 2>&1 \
    || dn_log "demo bookings were not made; see .drivenow/logs/booking_project-prepare.log"
fi

if $has_gateway; then
  base="http://127.0.0.1:$gateway_port"
  cat <<TXT

  DriveNow is running behind the gateway.  Ctrl-C stops it.

  Gateway    $base/   (index of both services)
  Inventory  $base/api/v1/cars/      docs $base/inventory/docs   redoc /inventory/redoc   schema /inventory/schema
             admin $base/inventory/admin/   health $base/inventory/health/ready
TXT
  $has_booking && cat <<TXT
  Booking    $base/api/v1/rentals/   docs $base/booking/docs   redoc /booking/redoc   schema /booking/schema
             customers $base/api/v1/customers/   admin $base/booking/admin/
TXT
  cat <<TXT
  Instances  inventory ${inventory_ports[*]/#/:}$($has_booking && echo "   booking ${booking_ports[*]/#/:}")   (each: /metrics, /health/ready)
  Gateway    JSON access log .drivenow/nginx/logs/access.log; booking reaches inventory on :$internal_port
TXT
else
  cat <<TXT

  DriveNow is running WITHOUT the gateway (nginx missing, see above).  Ctrl-C stops it.

  Inventory  http://127.0.0.1:$inventory_port/api/v1/cars/   docs /docs  /redoc  schema /schema   admin /admin/
TXT
  $has_booking && cat <<TXT
  Booking    http://127.0.0.1:$booking_port/api/v1/rentals/   docs /docs  /redoc  schema /schema   admin /admin/
TXT
fi
cat <<TXT

  Staff login (both admins)   staff / $DN_STAFF_PASSWORD
  Staff API token             export TOKEN=$DN_STAFF_TOKEN
  Booking's service token     $DN_SERVICE_TOKEN   (reservations only)
  PostgreSQL                  127.0.0.1:$pg_port, user drivenow, password in .drivenow/secrets.env (DN_PG_PASSWORD)
  Logs                        .drivenow/logs/

TXT
wait -n "${pids[@]}" || true
# Ctrl-C reaches the whole process group: a child may exit before this shell has run its trap. A moment's pause
# lets the trap run first, so a Ctrl-C is not reported as a crash.
sleep 0.5
[ "$interrupted" = 1 ] || dn_log "a process exited on its own; see .drivenow/logs/"
