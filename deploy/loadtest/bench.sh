#!/usr/bin/env bash
# DriveNow load test: production settings on a fresh throwaway database, a 10,000-car fleet, then Locust
# (headless) runs each scenario for a fixed time with a fixed number of clients and prints one line per scenario.
#   ./deploy/loadtest/bench.sh                 # 16 clients, 30 s per scenario
#   DN_BENCH_USERS=32 DN_BENCH_DURATION=60 DN_BENCH_CARS=20000 ./deploy/loadtest/bench.sh
#   DN_BENCH_PROFILE="rent_return browse" ./deploy/loadtest/bench.sh   # + py-spy profiles of both services
# Results (CSVs, logs, summary.json) stay in the work directory it prints.
source "$(dirname "${BASH_SOURCE[0]}")/../local/lib.sh"

users="${DN_BENCH_USERS:-16}"
duration="${DN_BENCH_DURATION:-30}"
cars="${DN_BENCH_CARS:-10000}"
contended="${DN_BENCH_CONTENDED_CARS:-4}"
scenarios="${DN_BENCH_SCENARIOS:-ceiling rent_return contention browse}"
here="$DN_ROOT/deploy/loadtest"

dn_venv
"$DN_PY" -m pip install -q --disable-pip-version-check --require-hashes -r "$DN_ROOT/requirements/bench.txt" \
  || dn_die "installing locust failed"
export PATH="$DN_VENV/bin:$PATH"

work="$(mktemp -d /tmp/drivenow-bench.XXXXXX)"
cluster="$work/pg"
pg_port="$(dn_free_port)"
# The throwaway cluster asks for a password like every other; libpq (psql, audit.py) and the services read it here.
DN_PG_PASSWORD="$(dn_secret)"
export DN_PG_PASSWORD PGPASSWORD="$DN_PG_PASSWORD" INVENTORY_DB_PASSWORD="$DN_PG_PASSWORD" BOOKING_DB_PASSWORD="$DN_PG_PASSWORD"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  dn_pg_stop "$cluster"
}
trap cleanup EXIT
dn_log "work directory $work; PostgreSQL on 127.0.0.1:$pg_port"
dn_pg_start "$cluster" "$pg_port"
dn_pg_createdb "$pg_port" bench_inventory
dn_pg_createdb "$pg_port" bench_booking

staff_token="$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
service_token="$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
inventory_port="$(dn_free_port)"
booking_port="$(dn_free_port)"
export DJANGO_SETTINGS_MODULE=config.settings.production
export DJANGO_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(64))')"
export DJANGO_SECURE_SSL_REDIRECT=false DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost DJANGO_LOG_LEVEL=WARNING
export INVENTORY_DB_PORT="$pg_port" INVENTORY_DB_NAME=bench_inventory
export BOOKING_DB_PORT="$pg_port" BOOKING_DB_NAME=bench_booking
export BOOKING_INVENTORY_URL="http://127.0.0.1:$inventory_port" BOOKING_INVENTORY_TOKEN="$service_token"
export GUNICORN_ACCESSLOG=  # an access line per request costs CPU the servers need; errors are still logged
# 16 clients from one address far exceed a public client's rate limit: the bench measures the services, not the throttle.
export DJANGO_THROTTLE_ANON=off DJANGO_THROTTLE_USER=off
unset PROMETHEUS_MULTIPROC_DIR

dn_log "preparing databases and a fleet of $cars cars"
(cd "$DN_ROOT/inventory_project" && python manage.py migrate --noinput -v0 && python manage.py collectstatic --noinput -v0 \
  && python manage.py seed_fleet --cars "$cars" >/dev/null \
  && python manage.py create_service_account --token "$service_token" >/dev/null \
  && python manage.py seed_demo --token "$staff_token" >/dev/null) || dn_die "preparing inventory failed"
(cd "$DN_ROOT/booking_project" && python manage.py migrate --noinput -v0 && python manage.py collectstatic --noinput -v0 \
  && python manage.py seed_demo --token "$staff_token" >/dev/null) || dn_die "preparing booking failed"
# A fleet in service has been vacuumed and analysed; a freshly loaded one gets that from autovacuum during the
# first scenario, which then measures the vacuum rather than the services.
for db in bench_inventory bench_booking; do
  "$(dn_pg_bindir)/psql" -h 127.0.0.1 -p "$pg_port" -U drivenow -d "$db" -qc "VACUUM (ANALYZE)" || dn_die "VACUUM failed"
done
"$(dn_pg_bindir)/psql" -h 127.0.0.1 -p "$pg_port" -U drivenow -d bench_inventory -Atc \
  "SELECT id FROM fleet_car WHERE status = 'available' ORDER BY plate" >"$work/cars.txt"

(cd "$DN_ROOT/inventory_project" && exec gunicorn -c config/gunicorn.conf.py --bind "127.0.0.1:$inventory_port" config.wsgi) \
  >"$work/inventory.log" 2>&1 &
pids+=($!)
(cd "$DN_ROOT/booking_project" && exec gunicorn -c config/gunicorn.conf.py --bind "127.0.0.1:$booking_port" config.wsgi) \
  >"$work/booking.log" 2>&1 &
pids+=($!)
(cd "$DN_ROOT/booking_project" && exec python manage.py run_outbox_relay) >"$work/relay.log" 2>&1 &
pids+=($!)
for url in "http://127.0.0.1:$inventory_port" "http://127.0.0.1:$booking_port"; do
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "$url/health/ready" 2>/dev/null && break; sleep 0.2; done
  curl -fsS -o /dev/null "$url/health/ready" || dn_die "$url did not come up; see $work/*.log"
done

export DN_INVENTORY_URL="http://127.0.0.1:$inventory_port" DN_BOOKING_URL="http://127.0.0.1:$booking_port"
export DN_STAFF_TOKEN="$staff_token" DN_CAR_IDS_FILE="$work/cars.txt" DN_USERS="$users" DN_CONTENDED_CARS="$contended"
declare -A classes=([ceiling]=CeilingUser [rent_return]=RentReturnUser [contention]=ContentionUser [browse]=BrowseUser)
inventory_pid="${pids[0]}" booking_pid="${pids[1]}" relay_pid="${pids[2]}"
postgres_pid="$(head -n 1 "$cluster/data/postmaster.pid")"
cpu_snapshot() {  # CPU seconds of each server process tree so far, to say where a scenario's CPU went
  python "$here/cpu.py" "$1" booking="$booking_pid" inventory="$inventory_pid" relay="$relay_pid" postgres="$postgres_pid"
}
for scenario in $scenarios; do
  dn_log "scenario $scenario: $users clients for ${duration}s"
  if [ -n "${DN_BENCH_PROFILE:-}" ] && [[ " $DN_BENCH_PROFILE " == *" $scenario "* ]]; then
    # Sampled profiles of every worker of both services while the scenario runs (collapsed stacks; flamegraph-ready).
    for svc in inventory booking; do
      pid_var="${svc}_pid"
      py-spy record --subprocesses --nonblocking --rate 200 -d "$duration" --format raw \
        -o "$work/$scenario-$svc.folded" -p "${!pid_var}" >"$work/$scenario-$svc.py-spy.log" 2>&1 &
    done
  fi
  cpu_snapshot "$work/$scenario.cpu-before.json"
  DN_STATUS_FILE="$work/$scenario.status.json" python "$here/timed.py" "$work/$scenario.time" \
    locust -f "$here/locustfile.py" --headless --only-summary -u "$users" -r "$users" -t "${duration}s" \
    --stop-timeout 10 --csv "$work/$scenario" "${classes[$scenario]}" >"$work/$scenario.log" 2>&1 || true
  cpu_snapshot "$work/$scenario.cpu-after.json"
  [ -s "$work/$scenario.status.json" ] || { tail -n 30 "$work/$scenario.log" >&2; dn_die "locust failed in $scenario"; }
done

dn_log "auditing both databases"
python "$here/audit.py" "$pg_port" bench_inventory bench_booking >"$work/audit.json"
python "$here/report.py" "$work" "$duration" "$users"
rc=$?
dn_log "details in $work (summary.json, per-scenario CSVs and logs)"
exit $rc
