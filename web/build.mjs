// Builds the playground into web/dist/ from web/src/ and the planner's wasm build in pkg/
// (scripts/build-wasm makes it): esbuild bundles the page script, the planner worker and
// the styles; the wasm module and index.html are copied; the service worker gets the list
// of files to cache and a version derived from their contents.
//
//   node build.mjs            minified build
//   node build.mjs --dev      unminified, with inline source maps

import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = dirname(fileURLToPath(import.meta.url));
const src = join(web, 'src');
const dist = join(web, 'dist');
const pkg = join(web, '..', 'pkg');
const dev = process.argv.includes('--dev');

const wasm = join(pkg, 'wesley_planner_bg.wasm');
if (!existsSync(wasm)) {
  console.error(`build: ${wasm} is missing; run scripts/build-wasm first`);
  process.exit(1);
}

const started = performance.now();
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await esbuild.build({
  entryPoints: {
    app: join(src, 'main.js'),
    worker: join(src, 'worker.js'),
    style: join(src, 'style.css'),
  },
  outdir: dist,
  bundle: true,
  format: 'esm',
  target: ['chrome111', 'firefox113', 'safari16.4'],
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  legalComments: 'none',
  loader: { '.graphql': 'text' },
  logLevel: 'warning',
});
copyFileSync(wasm, join(dist, 'wesley_planner_bg.wasm'));
copyFileSync(join(src, 'index.html'), join(dist, 'index.html'));

// The benchmark page (dist/bench/), run by scripts/bench-web; not cached for offline use.
await esbuild.build({
  entryPoints: { bench: join(web, 'bench', 'page.js') },
  outdir: join(dist, 'bench'),
  bundle: true,
  format: 'esm',
  target: ['chrome111', 'firefox113', 'safari16.4'],
  minify: !dev,
  logLevel: 'warning',
});
copyFileSync(join(web, 'bench', 'index.html'), join(dist, 'bench', 'index.html'));

// The service worker caches exactly the files above; its cache name changes with them.
const files = ['index.html', 'app.js', 'worker.js', 'style.css', 'wesley_planner_bg.wasm'];
const hash = createHash('sha256');
for (const f of files) hash.update(readFileSync(join(dist, f)));
const version = hash.digest('hex').slice(0, 16);
const sw = readFileSync(join(src, 'sw.js'), 'utf8')
  .replace('__VERSION__', version)
  .replace('__FILES__', JSON.stringify(['./', ...files.map((f) => `./${f}`)]));
writeFileSync(join(dist, 'sw.js'), sw);

const kb = (f) => (readFileSync(join(dist, f)).length / 1024).toFixed(0);
console.log(
  `build: web/dist in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
    `(app.js ${kb('app.js')} KB, worker.js ${kb('worker.js')} KB, wasm ${kb('wesley_planner_bg.wasm')} KB, version ${version})`,
);
