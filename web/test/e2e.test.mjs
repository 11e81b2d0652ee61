// The playground in real headless Chromium: the example plan renders; typing re-plans;
// syntax errors show at the right line and the preview goes stale, then recovers; the
// exported plan.json is exactly `wesley plan`'s and `wesley apply` applies it to a
// throwaway PostgreSQL; the TypeScript tab shows and exports what `wesley generate
// --format typescript` writes; a shared URL restores both schemas; the page works offline once
// loaded. Leaves screenshots in tests/artifacts/ (playground.png, playground-typescript.png).
//
// Needs pkg/ and web/dist (scripts/build-web), /usr/bin/chromium, target/debug/wesley and
// PostgreSQL (scripts/install-deps). A missing wesley binary or PostgreSQL fails the run.
//
// Whatever the page does asynchronously (planning in the worker, the clipboard, downloads,
// the URL, the service worker) is waited for until it is exactly the expected state, never
// for a fixed time or for a sign that usually comes first.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, browser, serve } from './browser.mjs';
import { startCluster } from './pg.mjs';

const WESLEY = process.env.WESLEY_BIN ?? join(resolve(ROOT, process.env.CARGO_TARGET_DIR ?? 'target'), 'debug', 'wesley');
const ARTIFACTS = join(ROOT, 'tests', 'artifacts');
const PKG = join(ROOT, 'pkg');
const ALL_HAZARDS = 'deletes_data,breaks_clients,blocks_reads,blocks_writes,table_rewrite,long_running,authz_change,needs_backfill,still_in_use';

let server;
let chrome;
let page;
let work;
const problems = [];

// The page's planner, in Node: the plan the page must end up showing for given texts (its
// steps, as `preview` returns them), as JSON text.
const planner = await import(join(PKG, 'wesley_planner.js'));
planner.initSync({ module: readFileSync(join(PKG, 'wesley_planner_bg.wasm')) });
const planFor = ({ current, next }) => {
  const { plan } = planner.preview('current.graphql', current, 'next.graphql', next);
  return plan === null ? null : JSON.stringify(plan);
};
const same = (a, b) => a !== null && b !== null && a.current === b.current && a.next === b.next;

const WAIT_MS = 30_000;
const brief = (value) => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined || text.length <= 200 ? String(text) : `${text.slice(0, 200)}… (${text.length} chars)`;
};

/**
 * Polls `read()` until `ok(value)` holds and returns that value; after WAIT_MS fails with
 * what was awaited and the last value seen.
 */
async function until(what, read, ok) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${WAIT_MS} ms waiting for ${what}; last seen: ${brief(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const clipboard = () => page.evaluate(() => navigator.clipboard.readText());

const next = () => page.getByTestId('editor-next');
const texts = () => page.evaluate(() => window.playground.texts());

/**
 * Waits until `p` shows the plan of exactly the texts in its editors (the one the planner
 * gives here for them) and no plan is running. A fixed pause for the debounce is not
 * enough: on a busy machine the page's timer fires late and the old plan is still shown.
 */
async function settled(p = page) {
  await until(
    'the preview to show the plan of the current schemas',
    () =>
      p.evaluate(() => ({
        texts: window.playground?.texts() ?? null,
        planned: window.playground?.planned ?? null,
        plan: window.playground?.plan ? JSON.stringify(window.playground.plan) : null,
        ready: document.body.dataset.ready === 'true',
        planning: Boolean(document.body.dataset.planning),
      })),
    (s) => s.ready && !s.planning && same(s.texts, s.planned) && s.plan !== null && s.plan === planFor(s.texts),
  );
}

/** Puts the cursor at the end of a one-based line of the "next schema" editor. */
async function endOfLine(line) {
  await next().locator('.cm-content').click();
  await page.keyboard.press('Control+Home');
  for (let i = 1; i < line; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('End');
}

function wesley(...args) {
  assert.ok(existsSync(WESLEY), `${WESLEY} is missing: run cargo build -p wesley (or set WESLEY_BIN)`);
  const r = spawnSync(WESLEY, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (r.error) throw r.error;
  return r;
}

describe('playground in Chromium', () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'wesley-e2e-'));
    server = await serve();
    chrome = await browser({ viewport: { width: 1440, height: 900 } });
    page = chrome.page;
    await chrome.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(server.url).origin });
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(server.url);
  });

  after(async () => {
    await chrome?.close();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('renders the example plan on a first visit', async () => {
    await page.getByTestId('step').first().waitFor();
    await settled();
    assert.ok((await page.getByTestId('step').count()) > 10);
    // The example drops and renames things: the verdict is the command's, a refusal that
    // names the kinds needing a decision.
    assert.match(await page.locator('#verdict').textContent(), /hazards? needs? a decision: .*deletes_data/);
    assert.match(await page.locator('#verdict').getAttribute('class'), /verdict-refused/);
    assert.ok((await page.locator('[data-severity="refuse"]').count()) > 0, 'refusals are marked');
    assert.ok((await page.locator('[data-severity="review"]').count()) > 0, 'reviews are marked');
    const table = page.getByTestId('lock-table');
    assert.ok(await table.isVisible());
    assert.ok((await table.locator('tbody tr').count()) >= 3);
    assert.ok(await page.locator('svg.graph .node.critical').count(), 'the critical path is drawn');
    assert.ok(await page.getByTestId('editor-current').locator('.cm-content').isVisible());
    assert.equal(await page.getByTestId('stale').isVisible(), false);
    // The rollback section: until contract, with the inverse steps from the plan file.
    const rollback = page.getByTestId('rollback');
    assert.match(await rollback.textContent(), /wesley rollback undoes this plan until its first contract step runs \(\d+ inverse steps?\)/);
    assert.ok((await rollback.locator('.rollback-steps li').count()) > 0, 'the inverse steps are listed');
  });

  it('re-plans as you type: a new @wes_index is built CONCURRENTLY under SHARE UPDATE EXCLUSIVE', async () => {
    // Line 14 of blog-v2.graphql is Author's `  name: String!`.
    await endOfLine(14);
    await page.keyboard.type(' @wes_index');
    const step = page
      .locator('[data-testid=step][data-kind=create_index][data-table="public.author"]')
      .filter({ hasText: 'CREATE INDEX CONCURRENTLY' });
    await step.waitFor();
    await settled();
    assert.match(await step.locator('pre.sql').textContent(), /CREATE INDEX CONCURRENTLY .*"author" .*\("name"\)/s);
    const badge = step.getByTestId('lock-badge');
    assert.equal(await badge.getAttribute('data-mode'), 'ShareUpdateExclusiveLock');
    assert.equal((await badge.textContent()).trim(), 'SHARE UPDATE EXCLUSIVE');
    assert.match(await badge.getAttribute('class'), /lock-green/);
    assert.ok(await page.getByTestId('lock-table').locator('tr[data-table="public.author"]').isVisible());
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'playground.png') });
  });

  it('shows a syntax error at its line, keeps the last plan marked stale, and recovers', async () => {
    const steps = await page.getByTestId('step').count();
    // Line 8 is Org's `  name: String! @wes_unique`.
    await endOfLine(8);
    await page.keyboard.type(' =');
    const diag = page.getByTestId('diagnostics').locator('li.diag-error[data-file="next.graphql"]');
    await diag.first().waitFor();
    assert.equal(await diag.first().getAttribute('data-line'), '8');
    await page.getByTestId('stale').waitFor();
    assert.equal(await page.getByTestId('step').count(), steps, 'the last good plan stays');
    assert.ok(await page.getByTestId('export-json').isDisabled());
    // The editor marks the error on line 8 itself.
    const marked = next().locator('.cm-line', { has: page.locator('.cm-lintRange-error') });
    await marked.first().waitFor();
    assert.match(await marked.first().textContent(), /name: String! @wes_unique =/);
    await next().locator('.cm-gutter-lint .cm-lint-marker-error').first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'playground-error.png') });

    await page.keyboard.press('Backspace');
    await page.keyboard.press('Backspace');
    await page.getByTestId('stale').waitFor({ state: 'hidden' });
    await settled();
    assert.equal(await diag.count(), 0);
    assert.equal(await page.getByTestId('step').count(), steps);
    assert.equal(await page.getByTestId('export-json').isDisabled(), false);
  });

  it('exports plan.json exactly as wesley plan writes it, and wesley apply applies it', async () => {
    await settled();
    const { current, next: nextText } = await texts();
    const oldFile = join(work, 'old.graphql');
    const newFile = join(work, 'new.graphql');
    writeFileSync(oldFile, current);
    writeFileSync(newFile, nextText);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
    assert.equal(download.suggestedFilename(), 'plan.json');
    const planFile = join(work, 'plan.json');
    await download.saveAs(planFile);
    const cli = wesley('plan', '--from', oldFile, '--to', newFile, '--format', 'json');
    assert.ok([0, 3].includes(cli.status), cli.stderr);
    assert.equal(readFileSync(planFile, 'utf8'), cli.stdout, 'plan.json differs from wesley plan --format json');

    const [sql] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-sql').click()]);
    assert.equal(sql.suggestedFilename(), 'plan.sql');
    await sql.saveAs(join(work, 'plan.sql'));
    assert.equal(readFileSync(join(work, 'plan.sql'), 'utf8'), wesley('plan', '--from', oldFile, '--to', newFile, '--format', 'sql').stdout);
    const [md] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-markdown').click()]);
    assert.equal(md.suggestedFilename(), 'plan.md');
    await md.saveAs(join(work, 'plan.md'));
    const markdown = readFileSync(join(work, 'plan.md'), 'utf8');
    assert.equal(markdown, wesley('plan', '--from', oldFile, '--to', newFile, '--format', 'markdown').stdout);
    await page.getByTestId('copy-markdown').click();
    await until('the Markdown of the plan on the clipboard', clipboard, (text) => text === markdown);

    // Applying the exported plan is the point of this test: a wesley without a working
    // `apply` fails it rather than skipping that half.
    const help = wesley('apply', '--help');
    assert.equal(help.status, 0, `\`${WESLEY} apply --help\` failed, so plan.json cannot be applied to PostgreSQL:\n${help.stdout}${help.stderr}`);
    const pg = startCluster();
    try {
      pg.psql('postgres', 'CREATE DATABASE playground TEMPLATE template0;');
      const ddl = wesley('generate', oldFile);
      assert.equal(ddl.status, 0, ddl.stderr);
      pg.psql('playground', ddl.stdout);
      const url = pg.url('playground');
      const applied = wesley('apply', planFile, '--database-url', url, '--allow', ALL_HAZARDS);
      assert.equal(applied.status, 0, `wesley apply failed:\n${applied.stdout}\n${applied.stderr}`);
      const drift = wesley('drift', '--schema', newFile, '--database-url', url);
      assert.equal(drift.status, 0, `the database does not match the next schema:\n${drift.stdout}\n${drift.stderr}`);
    } finally {
      pg.stop();
    }
  });

  it('restores both schemas from a shared URL', async () => {
    await settled();
    const before = await texts();
    await page.getByTestId('share').click();
    // The click resolves before the page has compressed the schemas and written the
    // clipboard, which still holds the Markdown of the previous test until then (and the
    // URL may already have a fragment from typing): wait for the link itself.
    const { origin, pathname } = new URL(server.url);
    const url = await until('the share button to copy a link with both schemas (#s=…) to the clipboard', clipboard, (text) => {
      const link = URL.canParse(text) ? new URL(text) : null;
      return link !== null && link.origin === origin && link.pathname === pathname && link.hash.startsWith('#s=');
    });
    assert.equal(url, await page.evaluate(() => location.href), 'the copied link is not the page’s URL');

    const other = await chrome.context.newPage();
    other.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await other.goto(url);
    await until(
      'the shared link to restore both schemas',
      () => other.evaluate(() => window.playground?.texts() ?? null),
      (t) => t !== null && t.current === before.current && t.next === before.next,
    );
    await settled(other);
    assert.ok(before.next.includes('name: String! @wes_index'));
    await other.close();
  });

  it('shows the next schema as TypeScript, dates as Date or string, and exports types.ts as wesley generate writes it', async () => {
    await settled();
    const { next: nextText } = await texts();
    const newFile = join(work, 'types.graphql');
    writeFileSync(newFile, nextText);
    const cli = (dates) => {
      const r = wesley('generate', newFile, '--format', 'typescript', '--ts-dates', dates);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const code = page.getByTestId('typescript');
    const shown = () => page.evaluate(() => window.playground.typescript);

    await page.getByTestId('tab-typescript').click();
    assert.equal(await page.getByTestId('tab-typescript').getAttribute('aria-selected'), 'true');
    await page.getByTestId('plan').waitFor({ state: 'hidden' });
    const asDate = cli('date');
    assert.match(asDate, /export interface \w+Insert \{/);
    await until('the TypeScript of the next schema', shown, (ts) => ts?.next === nextText && ts.dates === 'date');
    assert.equal(await code.textContent(), asDate);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'playground-typescript.png') });

    await page.getByTestId('ts-dates').selectOption('string');
    const asString = cli('string');
    assert.notEqual(asString, asDate, 'the example has time stamps');
    await until('the TypeScript with dates as strings', shown, (ts) => ts?.next === nextText && ts.dates === 'string');
    assert.equal(await code.textContent(), asString);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-typescript').click()]);
    assert.equal(download.suggestedFilename(), 'types.ts');
    await download.saveAs(join(work, 'types.ts'));
    assert.equal(readFileSync(join(work, 'types.ts'), 'utf8'), asString);

    await page.getByTestId('ts-dates').selectOption('date');
    await until('the TypeScript with dates as Date', shown, (ts) => ts?.dates === 'date');
    await page.getByTestId('tab-plan').click();
    await page.getByTestId('plan').waitFor();
    assert.ok(await page.getByTestId('typescript-panel').isHidden());
  });

  it('the bigint example swaps a primary key and the keys that reference it in one step', async () => {
    await page.locator('#example').selectOption('bigint');
    await page.waitForFunction(() => window.playground.texts().next.includes('id: BigInt! @wes_pk @wes_serial'));
    await settled();
    const swap = page.locator('[data-testid=step][data-kind=swap_columns][data-table="public.account"]');
    assert.equal(await swap.count(), 1);
    assert.match(await swap.textContent(), /LOCK TABLE "public"\."account", "public"\."audit_entry", "public"\."membership" IN ACCESS EXCLUSIVE MODE/);
    assert.match(await swap.textContent(), /PRIMARY KEY USING INDEX "account_pkey_new"/);
    assert.equal(await page.locator('[data-testid=step][data-kind=create_index][data-table="public.account"]').count(), 1, 'the new key\'s index');
    await page.locator('#example').selectOption('blog');
    await page.waitForFunction(() => !window.playground.texts().next.includes('@wes_serial'));
    await settled();
  });

  it('resets to the example and logged no errors', async () => {
    await page.getByTestId('reset').click();
    await page.waitForFunction(() => !window.playground.texts().next.includes('@wes_index\n  createdAt'));
    await settled();
    assert.equal(await page.locator('[data-testid=step][data-kind=create_index][data-table="public.author"]').count(), 0);
    assert.deepEqual(problems, []);
  });

  it('works offline once loaded (service worker)', async () => {
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    // Controlled means activated, and the worker activates only once its install has cached
    // every built file.
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    // The server must be gone before the reload, or the network serves it.
    await server.stop();
    await assert.rejects(fetch(server.url), 'the server still answers, so the reload would not be offline');
    await page.reload();
    assert.ok(await page.evaluate(() => navigator.serviceWorker.controller !== null), 'the reloaded page is not controlled by the service worker');
    await page.getByTestId('step').first().waitFor();
    await settled();
    assert.ok((await page.getByTestId('step').count()) > 10);
  });
});
