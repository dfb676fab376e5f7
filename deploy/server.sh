#!/usr/bin/env bash
# Team tracking server: MLflow (tracking + model registry) on PostgreSQL, artifacts in one shared place.
#
#   deploy/server.sh          # or: make server   (foreground; Ctrl-C stops MLflow and the PostgreSQL it started)
#   deploy/server.sh --no-auth  # no sign-in: only on loopback (MLFLOW_HOST 127.0.0.1, localhost or ::1)
#   deploy/server.sh stop     # stop a PostgreSQL cluster left running (KEEP_POSTGRES=1, or a killed script)
#
# What it does, in order:
#   1. Unless BACKEND_URI is given, runs a PostgreSQL cluster of its own: `initdb` into $PGDATA on first
#      use, then `pg_ctl start` listening on 127.0.0.1:$PG_PORT only (plus a Unix socket inside $PGDATA).
#      PostgreSQL refuses to run as root, so when this script runs as root the cluster runs as
#      $PG_OS_USER (default: the `postgres` account, created with `useradd --system` if absent).
#      It creates the role and database `mlflow`; the role's password is random, kept in
#      $STATE_DIR/pgpass (mode 600) and handed to MLflow through PGPASSFILE, never on a command line.
#      The accounts of sign-in live in a second database of the same cluster, `mlflow_auth`.
#   2. Sign-in (unless --no-auth): MLflow's basic-auth app with the project's one rule more, moving an
#      alias needs MANAGE (`--app-name trainer-auth`, trainer/team_server/app.py). On first use it
#      generates the admin's password ($STATE_DIR/admin_password) and the Flask secret key
#      ($STATE_DIR/flask_secret_key), both mode 600, and writes $STATE_DIR/auth.ini (mode 600:
#      default_permission, the accounts' database, admin_username = admin, its password), handed to
#      MLflow through MLFLOW_AUTH_CONFIG_PATH and MLFLOW_FLASK_SERVER_SECRET_KEY, never on a command
#      line. Accounts and roles: `make roles` (trainer/team_server/roles.py, deploy/README.md).
#   3. Runs `mlflow server --backend-store-uri postgresql+psycopg2://mlflow@127.0.0.1:$PG_PORT/mlflow
#      --artifacts-destination $ARTIFACTS_DIR --host $MLFLOW_HOST --port $MLFLOW_PORT --app-name trainer-auth`:
#      runs, metrics, params and registered models go to PostgreSQL; artifacts (models, plots,
#      reports) are uploaded through the server (`mlflow-artifacts:/`) into $ARTIFACTS_DIR, so
#      trainers need no access to it.
#   4. Waits for /health, prints how to point trainers at it, and stays in the foreground
#      ($STATE_DIR/mlflow.pid holds the server's pid, which is also its process group).
#
# Environment (all optional):
#   STATE_DIR       where everything lives           (default: deploy/state, git-ignored)
#   PGDATA          PostgreSQL data directory         (default: $STATE_DIR/pgdata)
#   PG_PORT         PostgreSQL port on 127.0.0.1      (default: 55432)
#   PG_BIN          directory with initdb/pg_ctl/psql (default: pg_config --bindir, newest /usr/lib/postgresql/*/bin, PATH)
#   PG_OS_USER      OS account that runs PostgreSQL when the script runs as root (default: postgres)
#   BACKEND_URI     use this database instead (e.g. a managed postgresql://...); no local cluster then.
#                   postgresql:// is run with the psycopg2 driver (postgresql+psycopg2://): SQLAlchemy 2.1
#                   would pick psycopg 3, which is not installed; put the password in PGPASSFILE/~/.pgpass
#   ARTIFACTS_DIR   shared artifact store, a path or s3://, gs://...  (default: $STATE_DIR/artifacts)
#   MLFLOW_HOST     interface MLflow binds to         (default: 127.0.0.1, loopback only; see deploy/README.md)
#   MLFLOW_PORT     MLflow port                       (default: 5000)
#   MLFLOW_WORKERS  server worker processes           (default: 4)
#   MLFLOW_EXTRA    extra `mlflow server` options, e.g. "--allowed-hosts mlflow.team.lan"
#   KEEP_POSTGRES   1 = leave PostgreSQL running when MLflow stops
#   AUTH_DEFAULT_PERMISSION  what a signed-in account may do where no role grants more
#                   (default: READ, browse everything; NO_PERMISSIONS hides what a role does not name)
#   AUTH_DATABASE_URI  the accounts' database (default: mlflow_auth in the local cluster; with
#                   BACKEND_URI: a database mlflow_auth beside BACKEND_URI's, which must exist)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${STATE_DIR:-$ROOT/deploy/state}"
PGDATA="${PGDATA:-$STATE_DIR/pgdata}"
PG_PORT="${PG_PORT:-55432}"
ARTIFACTS_DIR="${ARTIFACTS_DIR:-$STATE_DIR/artifacts}"
MLFLOW_HOST="${MLFLOW_HOST:-127.0.0.1}"
MLFLOW_PORT="${MLFLOW_PORT:-5000}"
MLFLOW_WORKERS="${MLFLOW_WORKERS:-4}"
MLFLOW_EXTRA="${MLFLOW_EXTRA:-}"
KEEP_POSTGRES="${KEEP_POSTGRES:-0}"
AUTH_DEFAULT_PERMISSION="${AUTH_DEFAULT_PERMISSION:-READ}"
DB_NAME=mlflow
AUTH_DB_NAME=mlflow_auth
DB_ROLE=mlflow
ADMIN_USER=admin
APP_NAME=trainer-auth

say() { printf 'server.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

find_pg_bin() {
    if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return 0; fi
    if command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/pg_ctl" ]]; then pg_config --bindir; return 0; fi
    local newest
    newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$newest" && -x "$newest/pg_ctl" ]]; then echo "$newest"; return 0; fi
    if command -v pg_ctl >/dev/null; then dirname "$(command -v pg_ctl)"; return 0; fi
    return 1
}

# Run a command as the PostgreSQL OS user (only needed when we are root).
as_pg() {
    if [[ "$(id -u)" -eq 0 ]]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

pick_pg_user() {
    if [[ "$(id -u)" -ne 0 ]]; then PG_OS_USER="$(id -un)"; return 0; fi
    PG_OS_USER="${PG_OS_USER:-postgres}"
    if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
        say "creating system user $PG_OS_USER to run PostgreSQL (it refuses to run as root)"
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
    fi
}

pg_running() { as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; }

start_postgres() {
    PG_BIN="$(find_pg_bin)" || die "PostgreSQL binaries (initdb, pg_ctl) not found; set PG_BIN or BACKEND_URI"
    pick_pg_user
    if [[ ! -d "$STATE_DIR" ]]; then mkdir -p "$STATE_DIR"; chmod 755 "$STATE_DIR"; fi
    if [[ ! -d "$PGDATA" ]]; then
        mkdir -p "$PGDATA"
        if [[ "$(id -u)" -eq 0 ]]; then chown "$PG_OS_USER" "$PGDATA"; fi
        chmod 700 "$PGDATA"
    fi
    as_pg test -w "$PGDATA" || die "$PG_OS_USER cannot write $PGDATA: every parent directory must be traversable (chmod o+x) by it"
    touch "$STATE_DIR/postgres.log"
    if [[ "$(id -u)" -eq 0 ]]; then chown "$PG_OS_USER" "$STATE_DIR/postgres.log"; fi

    if [[ ! -f "$PGDATA/PG_VERSION" ]]; then
        say "initdb $PGDATA (as $PG_OS_USER)"
        as_pg "$PG_BIN/initdb" -D "$PGDATA" --auth-local=peer --auth-host=scram-sha-256 \
            --encoding=UTF8 --no-locale >"$STATE_DIR/initdb.log" 2>&1 \
            || die "initdb failed, see $STATE_DIR/initdb.log"
    fi
    if pg_running; then
        PG_PORT="$(sed -n 4p "$PGDATA/postmaster.pid")"
        say "PostgreSQL already running on port $PG_PORT (left running on exit)"
        STARTED_PG=0
    else
        say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$STATE_DIR/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='$PGDATA'" >/dev/null \
            || die "PostgreSQL did not start, see $STATE_DIR/postgres.log"
        STARTED_PG=1
    fi

    # The mlflow role and database; the password lives only in the pgpass file.
    local pgpass="$STATE_DIR/pgpass" password
    if [[ ! -s "$pgpass" ]]; then
        password="$(random_secret)"
    else
        password="$(cut -d: -f5 "$pgpass")"
    fi
    # any database of the role: MLflow's and the accounts' (an older file named only `mlflow`)
    (umask 077; printf '127.0.0.1:*:*:%s:%s\n' "$DB_ROLE" "$password" >"$pgpass")
    chmod 600 "$pgpass"
    as_pg "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$PGDATA" -p "$PG_PORT" -d postgres >/dev/null <<SQL \
        || die "could not create the $DB_ROLE role / $DB_NAME database"
SELECT 'CREATE ROLE $DB_ROLE LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_ROLE')\gexec
ALTER ROLE $DB_ROLE WITH LOGIN PASSWORD '$password';
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')\gexec
SELECT 'CREATE DATABASE $AUTH_DB_NAME OWNER $DB_ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$AUTH_DB_NAME')\gexec
SQL
    export PGPASSFILE="$pgpass"
    BACKEND_URI="postgresql+psycopg2://$DB_ROLE@127.0.0.1:$PG_PORT/$DB_NAME"
    AUTH_DATABASE_URI="${AUTH_DATABASE_URI:-postgresql+psycopg2://$DB_ROLE@127.0.0.1:$PG_PORT/$AUTH_DB_NAME}"
}

random_secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# A secret kept in a file of mode 600 in $STATE_DIR, generated on first use.
kept_secret() {
    local file="$STATE_DIR/$1"
    if [[ ! -s "$file" ]]; then (umask 077; random_secret >"$file"); fi
    chmod 600 "$file"
    tr -d ' \n' <"$file"
}

loopback() { case "$1" in 127.0.0.1|localhost|::1|'[::1]') return 0 ;; *) return 1 ;; esac; }

# Sign-in: MLflow's basic auth (its accounts in $AUTH_DATABASE_URI) through the project's app.
setup_auth() {
    case "$AUTH_DEFAULT_PERMISSION" in READ|USE|EDIT|MANAGE|NO_PERMISSIONS) ;;
        *) die "AUTH_DEFAULT_PERMISSION must be READ, USE, EDIT, MANAGE or NO_PERMISSIONS, got '$AUTH_DEFAULT_PERMISSION'" ;;
    esac
    if [[ -z "${AUTH_DATABASE_URI:-}" ]]; then AUTH_DATABASE_URI="${BACKEND_URI%/*}/$AUTH_DB_NAME"; fi
    case "$AUTH_DATABASE_URI" in postgresql://*|postgres://*) AUTH_DATABASE_URI="postgresql+psycopg2://${AUTH_DATABASE_URI#*://}" ;; esac
    local admin_password
    admin_password="$(kept_secret admin_password)"
    (umask 077; cat >"$STATE_DIR/auth.ini" <<INI
# Written by deploy/server.sh on every start (mode 600): MLflow's basic-auth settings.
[mlflow]
default_permission = $AUTH_DEFAULT_PERMISSION
database_uri = $AUTH_DATABASE_URI
admin_username = $ADMIN_USER
# used once, to create the admin; later changes: make roles ARGS="password admin"
admin_password = $admin_password
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
    )
    chmod 600 "$STATE_DIR/auth.ini"
    export MLFLOW_AUTH_CONFIG_PATH="$STATE_DIR/auth.ini"
    MLFLOW_FLASK_SERVER_SECRET_KEY="$(kept_secret flask_secret_key)"
    export MLFLOW_FLASK_SERVER_SECRET_KEY
    APP_ARGS=(--app-name "$APP_NAME")
}

stop_postgres() {
    PG_BIN="$(find_pg_bin)" || die "PostgreSQL binaries not found; set PG_BIN"
    pick_pg_user
    if [[ -f "$PGDATA/postmaster.pid" ]] && pg_running; then
        say "stopping PostgreSQL ($PGDATA)"
        as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60 >/dev/null
    fi
}

MLFLOW_PID=""
STARTED_PG=0
cleanup() {
    trap - EXIT INT TERM
    if [[ -n "$MLFLOW_PID" ]] && kill -0 "$MLFLOW_PID" 2>/dev/null; then
        say "stopping MLflow"
        kill -TERM -- "-$MLFLOW_PID" 2>/dev/null || kill -TERM "$MLFLOW_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$MLFLOW_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL -- "-$MLFLOW_PID" 2>/dev/null || true
    fi
    rm -f "$STATE_DIR/mlflow.pid"
    if [[ "$STARTED_PG" -eq 1 && "$KEEP_POSTGRES" != 1 ]]; then stop_postgres; fi
}

health() {
    "$PYTHON" - "$1" <<'PY'
import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

COMMAND=run
AUTH=1
for arg in "$@"; do
    case "$arg" in
        run|stop) COMMAND="$arg" ;;
        --no-auth) AUTH=0 ;;
        *) die "usage: deploy/server.sh [run|stop] [--no-auth]" ;;
    esac
done
if [[ "$COMMAND" == stop ]]; then stop_postgres; exit 0; fi
if [[ "$AUTH" -eq 0 ]] && ! loopback "$MLFLOW_HOST"; then
    die "--no-auth serves only loopback: MLFLOW_HOST=$MLFLOW_HOST would let anyone who reaches the port log runs and move aliases"
fi
APP_ARGS=()

MLFLOW="$ROOT/.venv/bin/mlflow"; [[ -x "$MLFLOW" ]] || MLFLOW="$(command -v mlflow)" || die "mlflow not found (make venv)"
PYTHON="$ROOT/.venv/bin/python"; [[ -x "$PYTHON" ]] || PYTHON="$(command -v python3)"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ ! -d "$STATE_DIR" ]]; then mkdir -p "$STATE_DIR"; chmod 755 "$STATE_DIR"; fi
if [[ -z "${BACKEND_URI:-}" ]]; then start_postgres; else say "using the database at BACKEND_URI (no local PostgreSQL)"; fi
# SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the pinned driver is psycopg2 (requirements.txt).
case "$BACKEND_URI" in postgresql://*|postgres://*) BACKEND_URI="postgresql+psycopg2://${BACKEND_URI#*://}" ;; esac
if [[ "$AUTH" -eq 1 ]]; then setup_auth; else say "no sign-in (--no-auth): anyone who reaches $MLFLOW_HOST:$MLFLOW_PORT may write"; fi
case "$ARTIFACTS_DIR" in *://*) ;; *) mkdir -p "$ARTIFACTS_DIR"; ARTIFACTS_DIR="$(cd "$ARTIFACTS_DIR" && pwd)" ;; esac

say "MLflow on http://$MLFLOW_HOST:$MLFLOW_PORT (backend ${BACKEND_URI%%@*}@..., artifacts $ARTIFACTS_DIR)"
# Its own process group (setsid), so stopping it also stops the server's worker processes.
# shellcheck disable=SC2086 # MLFLOW_EXTRA is a list of options
setsid "$MLFLOW" server \
    --backend-store-uri "$BACKEND_URI" \
    --artifacts-destination "$ARTIFACTS_DIR" \
    --host "$MLFLOW_HOST" --port "$MLFLOW_PORT" --workers "$MLFLOW_WORKERS" \
    "${APP_ARGS[@]}" $MLFLOW_EXTRA &
MLFLOW_PID=$!
echo "$MLFLOW_PID" >"$STATE_DIR/mlflow.pid"  # also its process group id
case "$MLFLOW_HOST" in 0.0.0.0|::|'[::]') HEALTH_URL="http://127.0.0.1:$MLFLOW_PORT/health" ;; *) HEALTH_URL="http://$MLFLOW_HOST:$MLFLOW_PORT/health" ;; esac

for _ in $(seq 120); do
    kill -0 "$MLFLOW_PID" 2>/dev/null || die "mlflow server exited during start-up (see its output above)"
    if health "$HEALTH_URL"; then break; fi
    sleep 0.5
done
health "$HEALTH_URL" || die "mlflow server not healthy after 60 s"
say "ready. Point trainers at it with:  export MLFLOW_TRACKING_URI=http://$MLFLOW_HOST:$MLFLOW_PORT"
if [[ "$AUTH" -eq 1 ]]; then
    say "sign-in is on: each person signs in with MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD;"
    say "  accounts and roles: make roles ARGS=\"add alice trainer --recipe train.yaml\" (as admin; its password: $STATE_DIR/admin_password)"
fi
wait "$MLFLOW_PID"
