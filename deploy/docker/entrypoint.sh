#!/bin/sh
# Entry point of every Atrium image. Runs the command it is given, after two optional steps:
#   ATRIUM_WAIT_FOR_DB=1        wait (up to ATRIUM_WAIT_TIMEOUT_S, default 120) until the database answers
#   ATRIUM_MIGRATE_ON_START=1   apply migrations first (single-container setups; compose and Helm use a
#                               one-shot migrate service / Job instead, so replicas never race)
# Special commands: `release` = migrate + collectstatic (the compose `migrate` service),
#                   `wait-for-migrations` = block until no migration is unapplied (Kubernetes initContainer).
set -eu

cd /app

wait_for_db() {
    timeout="${ATRIUM_WAIT_TIMEOUT_S:-120}"
    elapsed=0
    until python manage.py check --database default >/dev/null 2>&1; do
        elapsed=$((elapsed + 2))
        if [ "$elapsed" -ge "$timeout" ]; then
            echo "atrium: the database did not answer within ${timeout}s" >&2
            python manage.py check --database default
            exit 1
        fi
        sleep 2
    done
}

if [ "${ATRIUM_WAIT_FOR_DB:-0}" = "1" ]; then
    wait_for_db
fi

case "${1:-}" in
    release)
        wait_for_db
        python manage.py migrate --noinput
        exec python manage.py collectstatic --noinput
        ;;
    wait-for-migrations)
        wait_for_db
        until python manage.py migrate --check >/dev/null 2>&1; do
            echo "atrium: waiting for migrations to be applied" >&2
            sleep 5
        done
        exit 0
        ;;
esac

if [ "${ATRIUM_MIGRATE_ON_START:-0}" = "1" ]; then
    python manage.py migrate --noinput
fi

exec "$@"
