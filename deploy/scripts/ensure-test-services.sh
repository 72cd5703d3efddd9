#!/usr/bin/env bash
# Makes sure the services the tests talk to are installed and running:
# Redis (127.0.0.1:6379, plus the redis-server binary, which tests also start
# privately to kill mid-test) and PostgreSQL (127.0.0.1:5432, database
# "test"). Installs Debian/Ubuntu packages when missing. Idempotent.
#
# Override with REDIS_URL / TEST_POSTGRES_URL to use services elsewhere.
set -euo pipefail

log() { printf 'test-deps: %s\n' "$*"; }
die() { printf 'test-deps: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$* missing and this is not a Debian/Ubuntu machine: install $* yourself"
  if [ -z "$SUDO" ] && [ "$(id -u)" != 0 ]; then die "$* missing; run as root or install sudo to let me install it"; fi
  if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 50); do port_open "$1" "$2" && return 0; sleep 0.2; done
  return 1
}

# --- Redis -------------------------------------------------------------------
command -v redis-server >/dev/null 2>&1 || apt_install redis-server
if [ -z "${REDIS_URL:-}" ]; then
  if ! port_open 127.0.0.1 6379; then
    log "starting redis-server on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/mosipcrvs-test-redis.log
    wait_port 127.0.0.1 6379 || die "redis-server did not come up; see /tmp/mosipcrvs-test-redis.log"
  fi
  log "redis ready on 127.0.0.1:6379"
else
  log "using REDIS_URL from the environment"
fi

# --- PostgreSQL --------------------------------------------------------------
if [ -z "${TEST_POSTGRES_URL:-}" ]; then
  installed_pg=""
  if ! port_open 127.0.0.1 5432; then
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then apt_install postgresql; installed_pg=1; fi
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
      ver=$(ls /etc/postgresql | sort -V | tail -n1)
      log "starting PostgreSQL $ver"
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    fi
    wait_port 127.0.0.1 5432 || die "PostgreSQL is not listening on 127.0.0.1:5432"
  fi
  # A cluster this script installed is a throw-away test cluster: let the
  # tests connect from loopback as postgres without a password. An existing
  # cluster's authentication is left alone.
  if [ -n "$installed_pg" ]; then
    ver=$(ls /etc/postgresql | sort -V | tail -n1)
    hba="/etc/postgresql/$ver/main/pg_hba.conf"
    if ! grep -q 'mosipcrvs-test' "$hba"; then
      log "allowing loopback trust auth on the new test cluster ($hba)"
      $SUDO sed -i '1i host all all 127.0.0.1/32 trust # mosipcrvs-test\nhost all all ::1/128 trust # mosipcrvs-test' "$hba"
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || true
    fi
  fi
  # Tests use the postgres user and a database named test.
  if command -v psql >/dev/null 2>&1; then
    if ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
      if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- psql -Atc "create database test" >/dev/null 2>&1 || true
      else
        $SUDO -u postgres psql -Atc "create database test" >/dev/null 2>&1 || true
      fi
    fi
  fi
  log "postgres ready on 127.0.0.1:5432"
else
  log "using TEST_POSTGRES_URL from the environment"
fi
