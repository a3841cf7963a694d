#!/usr/bin/env bash
# The services the tests use: PostgreSQL on 127.0.0.1:5432 (user postgres, no password, database "test")
# and Redis on 127.0.0.1:6379. Installed but stopped (a restarted machine): start them. Not installed:
# as root, install them from Debian's packages (as scripts/browser.sh does for Chromium) and start them;
# otherwise print the commands to run and fail. Idempotent: does nothing when both answer.
set -u
PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_PORT=6379
APT_PACKAGES=()
# Set when this run installed PostgreSQL: only a cluster we created ourselves gets trust auth.
PG_INSTALLED_HERE=""

is_root() { [ "$(id -u)" -eq 0 ]; }
pg_up() { pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; }
# The server, not only the client tools (psql alone comes with postgresql-client).
pg_installed() { compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null && command -v pg_ctlcluster >/dev/null; }
redis_installed() { redis-server --version >/dev/null 2>&1 && command -v redis-cli >/dev/null; }
pg_version() { find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1; }

wait_for() {
  for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done
  return 1
}

start_postgres() {
  local version
  version="$(pg_version)"
  if [ -z "$version" ]; then
    echo "PostgreSQL is installed but has no cluster in /etc/postgresql: create one with" >&2
    echo "  pg_createcluster --start 15 main" >&2
    return 1
  fi
  echo "starting PostgreSQL $version"
  if is_root; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  else
    # Only root or the postgres user may start the cluster.
    echo "PostgreSQL $version is installed but not running; as root run:" >&2
    echo "  pg_ctlcluster --skip-systemctl-redirect $version main start" >&2
    return 1
  fi
  wait_for pg_up
}

# A cluster this script created: let local TCP connections in without a password, as the tests connect
# (postgresql://postgres@127.0.0.1:5432/test). Debian's default asks for one; the cluster listens on
# localhost only. A cluster that was already there is never changed.
trust_local_tcp() {
  local hba
  hba="/etc/postgresql/$(pg_version)/main/pg_hba.conf"
  grep -q "added by ecomops scripts/services.sh" "$hba" && return 0
  {
    echo "# added by ecomops scripts/services.sh for the test suite: local TCP without a password"
    echo "host all all 127.0.0.1/32 trust"
    echo "host all all ::1/128 trust"
    cat "$hba"
  } >"$hba.new" && chown --reference="$hba" "$hba.new" && chmod --reference="$hba" "$hba.new" && mv "$hba.new" "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main reload
}

start_redis() {
  echo "starting Redis"
  # Nothing on disk (no dump.rdb in the current folder): the tests need only a live server.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null || true
  wait_for redis_up
}

pg_up || pg_installed || APT_PACKAGES+=(postgresql)
redis_up || redis_installed || APT_PACKAGES+=(redis-server)

if [ "${#APT_PACKAGES[@]}" -gt 0 ]; then
  if ! is_root || ! command -v apt-get >/dev/null; then
    echo "Missing for the tests: ${APT_PACKAGES[*]}. Install them, then run this script again:" >&2
    if command -v apt-get >/dev/null; then
      echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${APT_PACKAGES[*]}" >&2
      echo "  sudo bash scripts/services.sh   # starts them (and lets 127.0.0.1 connect as postgres)" >&2
    else
      echo "  (no apt-get here: install PostgreSQL 15+ and Redis 7 with your package manager)" >&2
    fi
    echo "The tests expect PostgreSQL at postgresql://postgres@$PG_HOST:$PG_PORT/test without a password" >&2
    echo "(or set ECOMOPS_TEST_POSTGRES_URL) and Redis at 127.0.0.1:$REDIS_PORT." >&2
    exit 1
  fi
  echo "installing ${APT_PACKAGES[*]}"
  apt-get update || exit 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}" || exit 1
  case " ${APT_PACKAGES[*]} " in *" postgresql "*) PG_INSTALLED_HERE=1 ;; esac
fi

if ! pg_up; then
  start_postgres || true
fi
if [ -n "$PG_INSTALLED_HERE" ] && pg_up; then
  trust_local_tcp
fi
pg_up || { echo "PostgreSQL is not reachable on $PG_HOST:$PG_PORT" >&2; exit 1; }
# The store tests use database "test" as user postgres (each test in its own schema).
if ! psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
  createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres test || exit 1
fi

# Redis backs the shared rate-limit buckets (tests/web/test_ratelimit.py).
if ! redis_up; then
  start_redis || true
fi
redis_up || { echo "Redis is not reachable on 127.0.0.1:$REDIS_PORT" >&2; exit 1; }
exit 0
