// Helpers for the browser tests and the benchmark: serve web/dist on a free port and drive
// Debian's Chromium (headless) through playwright-core. No browser is downloaded.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB = fileURLToPath(new URL('..', import.meta.url));
export const ROOT = join(WEB, '..');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

// Chromium as root needs --no-sandbox; the networking flags keep it from calling home
// (there is no network but the registries here).
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Serves web/dist on 127.0.0.1 with a free port: `{ url, stop() }`; `stop()` resolves once it has exited. */
export async function serve() {
  if (!existsSync(join(WEB, 'dist', 'index.html'))) {
    throw new Error('web/dist is not built: run scripts/build-wasm and `node web/build.mjs`');
  }
  const child = spawn(process.execPath, [join(WEB, 'serve.mjs'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /http:\/\/\S+/.exec(out);
      if (m) resolve(m[0]);
    });
    child.on('exit', (code) => reject(new Error(`serve.mjs exited with ${code}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    url,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      return exited;
    },
  };
}

/** A fresh headless Chromium profile: `{ context, page, close() }`. */
export async function browser({ viewport = { width: 1440, height: 900 } } = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run scripts/install-deps (apt-get install chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'wesley-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
