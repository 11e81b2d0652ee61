// A throwaway PostgreSQL cluster for the browser tests, started the way
// executor/src/cluster.rs does it: initdb and pg_ctl on a private Unix socket in a short
// /tmp directory (no TCP), through the `postgres` OS user when running as root. `stop()`
// stops the server and removes the directory.

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const SUPERUSER = 'postgres';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The directory with initdb, pg_ctl and postgres: $WESLEY_PG_BINDIR, pg_config, or the newest Debian one. */
export function findBinDir() {
  const usable = (d) => d && ['initdb', 'pg_ctl', 'postgres'].every((p) => existsSync(join(d, p)));
  if (process.env.WESLEY_PG_BINDIR) return process.env.WESLEY_PG_BINDIR;
  const fromConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (fromConfig.status === 0 && usable(fromConfig.stdout.trim())) return fromConfig.stdout.trim();
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (usable(join(root, v, 'bin'))) return join(root, v, 'bin');
  return null;
}

/** Starts a cluster: `{ socketDir, port, url(db), psql(db, sql), stop() }`. */
export function startCluster() {
  const bin = findBinDir();
  if (!bin) throw new Error('PostgreSQL server programs not found: run scripts/install-deps');
  const asRoot = process.getuid?.() === 0;
  // Server programs refuse to run as root: run them as `postgres`.
  const server = (prog, args) => (asRoot ? run('runuser', ['-u', SUPERUSER, '--', join(bin, prog), ...args]) : run(join(bin, prog), args));
  if (asRoot && spawnSync('id', ['-u', SUPERUSER]).status !== 0) {
    run('useradd', ['--system', '--no-create-home', SUPERUSER]);
  }
  const dir = mkdtempSync('/tmp/wpg.');
  const data = join(dir, 'data');
  const port = 20000 + Math.floor(Math.random() * 40000);
  let started = false;
  const stop = () => {
    if (started) {
      try {
        server('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '60', 'stop']);
      } catch {
        // Removing the directory below is what matters.
      }
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (asRoot) run('chown', [`${SUPERUSER}:`, dir]);
    server('initdb', ['-D', data, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync', '--no-instructions']);
    chmodSync(dir, 0o711);
    const options = `-c listen_addresses='' -c unix_socket_directories='${dir}' -c port=${port} -c fsync=off -c full_page_writes=off`;
    server('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start']);
    started = true;
  } catch (e) {
    stop();
    throw e;
  }
  return {
    socketDir: dir,
    port,
    url: (db) => `postgresql://${SUPERUSER}@${encodeURIComponent(dir)}:${port}/${encodeURIComponent(db)}`,
    psql: (db, sql) =>
      run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-p', String(port), '-U', SUPERUSER, '-d', db], { input: sql }),
    stop,
  };
}
