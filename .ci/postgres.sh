# shellcheck shell=bash
# PostgreSQL for the tests: source this file, then call pg_start and pg_stop.
#
#   . .ci/postgres.sh
#   pg_start            # exports TEST_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/hookd?sslmode=disable
#   trap pg_stop EXIT
#
# pg_start installs Debian's postgresql package when no initdb is found, runs a throw-away
# cluster as the postgres user (PostgreSQL refuses to run as root) in a temporary directory,
# listening on a free loopback port only, with trust authentication (loopback only, test data
# only). Durability is switched off: the cluster is deleted by pg_stop anyway.
# Both functions are idempotent and print what went wrong, with the server log, on failure.

HOOKD_PG_DIR="${HOOKD_PG_DIR:-}"
HOOKD_PG_BIN="${HOOKD_PG_BIN:-}"

_pg_say() { echo "postgres.sh: $*" >&2; }

# _pg_find_bin sets HOOKD_PG_BIN to the newest Debian PostgreSQL bin directory with initdb.
_pg_find_bin() {
	local d
	HOOKD_PG_BIN=""
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && HOOKD_PG_BIN="$d"
	done
	[ -n "$HOOKD_PG_BIN" ]
}

# _pg_as_postgres runs a command as the postgres user.
_pg_as_postgres() {
	if command -v runuser >/dev/null 2>&1; then
		runuser -u postgres -- "$@"
	else
		su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
	fi
}

# _pg_free_port prints a loopback TCP port that nothing listens on right now.
_pg_free_port() {
	local port i
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % 30000))
		# A refused connection means the port is free.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	_pg_say "no free loopback port found"
	return 1
}

pg_start() {
	if [ -n "$HOOKD_PG_DIR" ] && [ -n "$HOOKD_PG_BIN" ] &&
		_pg_as_postgres "$HOOKD_PG_BIN/pg_ctl" -D "$HOOKD_PG_DIR/data" status >/dev/null 2>&1; then
		_pg_say "already running: $TEST_DATABASE_URL"
		return 0
	fi
	if ! _pg_find_bin; then
		_pg_say "no PostgreSQL found, installing the postgresql package"
		if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }; then
			_pg_say "FAILED: apt-get install postgresql"
			return 1
		fi
		if ! _pg_find_bin; then
			_pg_say "FAILED: postgresql installed but no initdb under /usr/lib/postgresql/*/bin"
			return 1
		fi
	fi
	if ! id postgres >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /bin/sh postgres || {
			_pg_say "FAILED: cannot create the postgres user"
			return 1
		}
	fi

	# Under /tmp rather than $TMPDIR: the postgres user must be able to reach it.
	HOOKD_PG_DIR="$(mktemp -d /tmp/hookd-pg.XXXXXX)" || {
		_pg_say "FAILED: mktemp"
		return 1
	}
	chown postgres: "$HOOKD_PG_DIR" || {
		_pg_say "FAILED: chown $HOOKD_PG_DIR to postgres"
		_pg_cleanup
		return 1
	}
	if ! _pg_as_postgres "$HOOKD_PG_BIN/initdb" -D "$HOOKD_PG_DIR/data" -U postgres -E UTF8 \
		--auth-local=trust --auth-host=trust --no-sync >"$HOOKD_PG_DIR/initdb.log" 2>&1; then
		_pg_say "FAILED: initdb"
		cat "$HOOKD_PG_DIR/initdb.log" >&2
		_pg_cleanup
		return 1
	fi

	local port try
	for try in 1 2 3 4 5; do
		port="$(_pg_free_port)" || {
			_pg_cleanup
			return 1
		}
		# fsync and friends off: a test cluster is thrown away; max_connections up because
		# parallel tests each open a pool.
		if _pg_as_postgres "$HOOKD_PG_BIN/pg_ctl" -D "$HOOKD_PG_DIR/data" -l "$HOOKD_PG_DIR/server.log" \
			-w -t 60 -o "-p $port -k $HOOKD_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null 2>&1; then
			break
		fi
		_pg_say "start on port $port failed (try $try)"
		port=""
	done
	if [ -z "$port" ]; then
		_pg_say "FAILED: pg_ctl start; server log:"
		cat "$HOOKD_PG_DIR/server.log" >&2 2>/dev/null
		_pg_cleanup
		return 1
	fi

	local ready=""
	for try in $(seq 1 60); do
		if "$HOOKD_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
			ready=1
			break
		fi
		sleep 0.5
	done
	if [ -z "$ready" ] || ! "$HOOKD_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres hookd; then
		_pg_say "FAILED: server not ready or createdb failed; server log:"
		cat "$HOOKD_PG_DIR/server.log" >&2 2>/dev/null
		pg_stop
		return 1
	fi
	export HOOKD_PG_DIR HOOKD_PG_BIN
	export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/hookd?sslmode=disable"
	_pg_say "started $("$HOOKD_PG_BIN/postgres" --version), TEST_DATABASE_URL=$TEST_DATABASE_URL"
}

_pg_cleanup() {
	[ -n "$HOOKD_PG_DIR" ] && rm -rf "$HOOKD_PG_DIR"
	HOOKD_PG_DIR=""
}

pg_stop() {
	if [ -z "$HOOKD_PG_DIR" ]; then
		return 0
	fi
	if [ -d "$HOOKD_PG_DIR/data" ] && [ -n "$HOOKD_PG_BIN" ]; then
		_pg_as_postgres "$HOOKD_PG_BIN/pg_ctl" -D "$HOOKD_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 ||
			_pg_as_postgres "$HOOKD_PG_BIN/pg_ctl" -D "$HOOKD_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 ||
			_pg_say "warning: pg_ctl stop failed"
	fi
	_pg_cleanup
	unset TEST_DATABASE_URL
}
