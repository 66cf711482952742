#!/usr/bin/env bash
# The project's test command (`npm test`): makes sure every real service the tests talk to is up,
# runs the whole vitest suite, and ends with the line `N passed, N failed`.
#
#   PostgreSQL 127.0.0.1:5432 and Redis 127.0.0.1:6379 are started if they are not running.
#   Apache Kafka (KRaft, 127.0.0.1:9092) is started by scripts/kafka-up.sh (jars from Maven Central).
#   Debian tools the tests drive (mmdblookup, nfdump, softflowd, promtool, chromium for the live
#   page's browser test) are installed when missing (root).
#
# Extra arguments go to vitest, e.g. `npm test -- test/unit`.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

need_debian_packages=()
command -v mmdblookup >/dev/null 2>&1 || need_debian_packages+=(mmdb-bin)
command -v nfdump >/dev/null 2>&1 || need_debian_packages+=(nfdump)
command -v softflowd >/dev/null 2>&1 || need_debian_packages+=(softflowd)
command -v promtool >/dev/null 2>&1 || need_debian_packages+=(prometheus)
[ -x /usr/bin/chromium ] || need_debian_packages+=(chromium)
if [ ${#need_debian_packages[@]} -gt 0 ]; then
  echo "test: installing ${need_debian_packages[*]} (Debian packages the tests use)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "test: FAILED: ${need_debian_packages[*]} missing and not root; run: sudo apt-get install -y ${need_debian_packages[*]}" >&2
    exit 1
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_debian_packages[@]}") >/tmp/themis-apt.log 2>&1 \
    || { echo "test: FAILED: apt-get install ${need_debian_packages[*]}; see /tmp/themis-apt.log" >&2; tail -5 /tmp/themis-apt.log >&2; exit 1; }
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "test: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || { echo "test: FAILED: PostgreSQL is not running and could not be started" >&2; exit 1; }
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "test: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log \
    || { echo "test: FAILED: Redis is not running and could not be started" >&2; exit 1; }
fi
bash scripts/kafka-up.sh || { echo "test: FAILED: the Kafka broker did not start (see above)"; echo "0 passed, 1 failed"; exit 1; }

rm -f test-results/vitest.json
npx vitest run "$@"
vitest_status=$?
node scripts/test-summary.mjs test-results/vitest.json
summary_status=$?
if [ $vitest_status -ne 0 ] || [ $summary_status -ne 0 ]; then exit 1; fi
