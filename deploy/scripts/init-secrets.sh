#!/bin/sh
# Creates deploy/secrets/ for docker compose: the Django key, the PostgreSQL password and the database URL
# that uses it, a Flower login, and a self-signed TLS certificate (replace tls.crt / tls.key with real ones).
# Existing files are kept, so running it again never rotates a secret by accident.
#   deploy/scripts/init-secrets.sh [HOSTNAME] [DIR]
set -eu

HOSTNAME_FOR_CERT="${1:-${ATRIUM_HOSTNAME:-localhost}}"
DIR="${2:-$(cd "$(dirname "$0")/.." && pwd)/secrets}"
mkdir -p "$DIR"
chmod 700 "$DIR"
umask 077

random() {
    # URL-safe: the password goes into a postgres:// URL without escaping.
    python3 -c "import secrets, sys; print(secrets.token_urlsafe(int(sys.argv[1])))" "$1"
}

write_once() {
    if [ ! -s "$DIR/$1" ]; then
        printf '%s' "$2" > "$DIR/$1"
        echo "wrote $DIR/$1"
    fi
}

write_once secret_key "$(random 64)"
write_once postgres_password "$(random 24)"
write_once database_url "postgres://atrium:$(cat "$DIR/postgres_password")@postgres:5432/atrium"
write_once flower_basic_auth "admin:$(random 18)"

if [ ! -s "$DIR/tls.crt" ] || [ ! -s "$DIR/tls.key" ]; then
    if command -v openssl >/dev/null 2>&1; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=$HOSTNAME_FOR_CERT" \
            -addext "subjectAltName=DNS:$HOSTNAME_FOR_CERT" \
            -keyout "$DIR/tls.key" -out "$DIR/tls.crt" 2>/dev/null
        echo "wrote a self-signed certificate for $HOSTNAME_FOR_CERT to $DIR/tls.crt"
    else
        echo "openssl is not installed: put a certificate and key at $DIR/tls.crt and $DIR/tls.key" >&2
    fi
fi
# The containers run as uid 10001 (Atrium), 999 (postgres) and 101 (nginx); docker compose bind-mounts
# file secrets with their host modes, so the files must be readable by those users.
chmod 644 "$DIR"/*
chmod 700 "$DIR"  # host users cannot reach them; the bind-mounted files stay readable inside
