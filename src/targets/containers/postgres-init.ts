/**
 * The database container's init script: it creates the application role the services connect
 * as, which is not a superuser (NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS)
 * and owns the instance's database and its public schema (the migrations create the services'
 * schemas as it, so it owns those too). The superuser the image creates (POSTGRES_USER) keeps
 * its password in the database container alone.
 *
 * The official postgres image runs /docker-entrypoint-initdb.d/* once, on an empty volume, with
 * a server reachable only on its local socket; a file that is not executable is sourced, so the
 * script neither exits on success nor changes the shell's options. The password comes from
 * INSTANT_DATABASE_PASSWORD_FILE (a Docker/Kubernetes secret), else INSTANT_DATABASE_PASSWORD
 * (podman kube play, whose secrets are environment values); it reaches psql through the
 * environment, never the command line.
 */
export const POSTGRES_INIT_DIR = '/docker-entrypoint-initdb.d';
export const POSTGRES_INIT_FILE = '10-instant-app-role.sh';

export const POSTGRES_INIT_SCRIPT = `# Rendered by instant: creates the application role (see docs/production.md).
if [ -n "\${INSTANT_DATABASE_PASSWORD_FILE:-}" ] && [ -z "\${INSTANT_DATABASE_PASSWORD:-}" ]; then
  INSTANT_DATABASE_PASSWORD="$(cat "$INSTANT_DATABASE_PASSWORD_FILE")"
fi
if [ -z "\${INSTANT_DATABASE_PASSWORD:-}" ] || [ -z "\${INSTANT_DATABASE_USER:-}" ]; then
  echo "instant: INSTANT_DATABASE_USER and INSTANT_DATABASE_PASSWORD(_FILE) are needed to create the application role" >&2
  exit 1
fi
export INSTANT_DATABASE_PASSWORD
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "\${POSTGRES_DB:-$POSTGRES_USER}" \\
  -v app_user="$INSTANT_DATABASE_USER" -v app_db="\${POSTGRES_DB:-$POSTGRES_USER}" <<'SQL'
\\set app_password \`printf '%s' "$INSTANT_DATABASE_PASSWORD"\`
CREATE ROLE :"app_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_password';
ALTER DATABASE :"app_db" OWNER TO :"app_user";
ALTER SCHEMA public OWNER TO :"app_user";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
unset INSTANT_DATABASE_PASSWORD
`;
