#!/usr/bin/env bash
# Make PostgreSQL (127.0.0.1:5432, database "test"), Redis (127.0.0.1:6379) and Debian's
# Chromium available for the test suite: use them when reachable, otherwise install/start them.
set -uo pipefail

reachable() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
apt_updated=""
apt_install() {
  can_install || { echo "ensure-services: cannot install $* (not root or no apt-get)"; return 1; }
  [ -n "$apt_updated" ] || { apt-get update -qq >/dev/null && apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
wait_port() { for _ in $(seq 1 60); do reachable "$1" && return 0; sleep 0.5; done; return 1; }

if ! reachable 6379; then
  echo "ensure-services: starting Redis"
  command -v redis-server >/dev/null || apt_install redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/chonai-redis.log
  wait_port 6379 || echo "ensure-services: Redis did not come up"
fi

if ! reachable 5432; then
  echo "ensure-services: starting PostgreSQL"
  ls /etc/postgresql/*/main >/dev/null 2>&1 || apt_install postgresql
  if command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql | sort -n | tail -1)
    conf=/etc/postgresql/$version/main
    # Trust on loopback, as the test suite expects (this is a throwaway test cluster).
    if ! grep -q "chonai-test" "$conf/pg_hba.conf" 2>/dev/null; then
      sed -i '1i host all all 127.0.0.1/32 trust # chonai-test\nhost all all ::1/128 trust # chonai-test' "$conf/pg_hba.conf"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_port 5432 || echo "ensure-services: PostgreSQL did not come up"
  fi
fi
if reachable 5432 && command -v psql >/dev/null; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null 2>&1 || true
fi

# Chromium for browser tests, Japanese fonts so pages render, poppler for PDF text checks.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
fc-list 2>/dev/null | grep -qi "Noto Color Emoji" || missing+=(fonts-noto-color-emoji)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
command -v npm >/dev/null || missing+=(npm)  # axe-core for the accessibility test (make test installs it)
command -v pg_dump >/dev/null || missing+=(postgresql-client)  # chonai backup on PostgreSQL
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-services: installing ${missing[*]}"
  apt_install "${missing[@]}" || true
fi
exit 0
