// The user's first minutes, end to end: `npm start` (install check, build, three real peers, the
// dashboard server) in a process group of its own, then the page in real Chromium (Debian's, driven
// by playwright-core; never a downloaded browser). It checks what a user would: the page loads with
// no errors and shows three peers, a scenario raises the done count, a click into a task opens its
// page with the timeline, a search finds tasks, the table pages past the first 150 tasks, after
// more than 3,000 tasks were archived (and a document generation changed) the page's counts match
// `agentmesh status` of every peer, a partition made with the CLI shows on the page (the other side
// "unreachable from here"), a partition made from the page leaves both sides working, after heal
// every view agrees, a reload keeps the charts, killing the page's peer moves the page to another
// peer, and Ctrl-C stops everything with exit 0.
// Screenshots go to demo/test-output/. Without /usr/bin/chromium the browser steps are skipped, loudly.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeUntil } from '@agentmesh/peer/testing';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const outDir = join(here, '..', 'test-output');
const CHROMIUM = process.env.AGENTMESH_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);

if (!haveChromium) {
  const bar = '!'.repeat(78);
  process.stderr.write(
    `\n${bar}\n!! ${CHROMIUM} is missing: the dashboard BROWSER TESTS ARE SKIPPED.\n` +
      `!! Install Debian's chromium (as root: apt-get update && apt-get install -y chromium);\n` +
      `!! \`npm test\` does this by itself when it runs as root (scripts/bootstrap.mjs --chromium).\n${bar}\n\n`,
  );
}

interface ReadyPeer {
  name: string;
  peerId: string;
  capacity: number;
  wsUrl: string;
  httpUrl: string;
  state: string;
  pid: number | null;
}
interface Ready {
  event: 'ready';
  url: string;
  pid: number;
  seconds: number;
  peers: ReadyPeer[];
}
interface Status {
  peers: { name: string; peerId: string; alive: boolean }[];
  tasks: Record<string, number>;
  duplicateRuns: number;
  archived: { total: number; done: number; dead: number };
  generation: { n: number };
}

/** The CLI exactly as the README has it: ./agentmesh at the repository root. */
async function agentmesh(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(join(root, 'agentmesh'), args, { timeout: 20_000 });
  return stdout;
}

let child: ChildProcess;
let ready: Ready;
let msToUrl = 0;
const stderrLines: string[] = [];
const report: { msToUrl?: number; startSeconds?: number; screenshots: string[]; steps: Record<string, number> } = { screenshots: [], steps: {} };

let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];
/** Console errors Chromium prints while a peer is down on purpose (its websocket cannot connect). */
let allowSocketErrors = false;

/** Every wait here names its timeout; the page and the peers are asked every 250 ms. */
const until = makeUntil({ timeoutMs: 30_000, everyMs: 250 });

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

const peer = (name: string): ReadyPeer => ready.peers.find((p) => p.name === name)!;
const status = (name: string) => getJson<Status>(`${peer(name).httpUrl}/api/status`);
const allTaskIds = async (name: string) => new Set((await getJson<{ tasks: { id: string; state: string }[] }>(`${peer(name).httpUrl}/api/tasks`)).tasks.map((t) => t.id));
const done = (s: Status) => s.tasks.done ?? 0;
const total = (s: Status) => Object.values(s.tasks).reduce((a, b) => a + b, 0);
const seesAlive = (s: Status, name: string) => s.peers.find((p) => p.name === name)?.alive === true;

async function shot(name: string): Promise<void> {
  const file = join(outDir, name);
  await page.screenshot({ path: file, fullPage: true });
  report.screenshots.push(file);
  process.stderr.write(`dashboard test: screenshot ${file}\n`);
}

const attr = async (sel: string, name: string) => page.getAttribute(sel, name);
const pageDone = async () => Number(await attr('[data-testid=count-done]', 'data-value'));
const pageCount = async (state: string) => Number(await attr(`[data-testid=count-${state}]`, 'data-value'));

async function submitFromPage(kind: string, rate: number, seconds: number, to: string, faultyPct = 0): Promise<void> {
  await page.selectOption('[data-testid=scenario-kind]', kind);
  await page.fill('[data-testid=scenario-rate]', String(rate));
  await page.fill('[data-testid=scenario-seconds]', String(seconds));
  await page.fill('[data-testid=scenario-faulty]', String(faultyPct));
  await page.selectOption('[data-testid=scenario-peer]', to);
  await page.click('[data-testid=scenario-submit]');
  await until('the scenario to be accepted', async () => {
    const st = await attr('[data-testid=scenario-result]', 'data-state');
    if (st === 'error') throw new Error(await page.textContent('[data-testid=scenario-result]') ?? 'error');
    return st === 'ok';
  }, 10_000);
}

async function stopDemo(signal: NodeJS.Signals): Promise<void> {
  if (!child?.pid || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* gone */
  }
}

function alive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start and the dashboard', () => {
  beforeAll(async () => {
    mkdirSync(outDir, { recursive: true });
    const t0 = Date.now();
    // Finished tasks leave the live document beyond the newest 300, and a new document generation
    // clears the tombstones every 2,500 deleted entries: the test archives thousands of tasks.
    const env: NodeJS.ProcessEnv = { ...process.env, AGENTMESH_DEMO_PORT: '0', AGENTMESH_DEMO_JSON: '1', AGENTMESH_DEMO_MAX_FINISHED: '300', AGENTMESH_DEMO_PEER_ARGS: '--max-tombstones 2500' };
    delete env.CI; // bootstrap reinstalls under CI; npm test has just installed and built
    // A process group of its own, like a terminal's: Ctrl-C (SIGINT) reaches npm, pnpm, the demo and its peers.
    child = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    process.on('exit', () => void stopDemo('SIGKILL'));
    createInterface({ input: child.stderr! }).on('line', (l) => {
      stderrLines.push(l);
      if (stderrLines.length > 400) stderrLines.shift();
    });
    ready = await new Promise<Ready>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start printed no ready line in 120 s; stderr:\n${stderrLines.slice(-30).join('\n')}`)), 120_000);
      createInterface({ input: child.stdout! }).on('line', (l) => {
        if (!l.startsWith('{')) return;
        try {
          const j = JSON.parse(l) as Ready;
          if (j.event === 'ready') {
            clearTimeout(timer);
            resolve(j);
          }
        } catch {
          /* not ours */
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited (${code}) before it was ready; stderr:\n${stderrLines.slice(-30).join('\n')}`));
      });
    });
    msToUrl = Date.now() - t0;
    report.msToUrl = msToUrl;
    report.startSeconds = ready.seconds;
    process.stderr.write(`dashboard test: npm start printed ${ready.url} after ${(msToUrl / 1000).toFixed(1)} s (the demo process itself was ready ${ready.seconds} s after it started)\n`);

    if (!haveChromium) return;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // playwright-core gives every launch a fresh temporary profile (user data dir) of its own.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // Once the test kills a peer: its sockets fail, and what the page still asks of it through
      // the demo server while it is down or starting again is answered 503 (the browser logs it).
      if (allowSocketErrors && /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|the server responded with a status of 503/.test(m.text())) return;
      pageErrors.push(`console.error: ${m.text()}`);
    });
    page.on('requestfailed', (r) => {
      if (allowSocketErrors && r.url().startsWith('ws')) return;
      // A reload aborts the page's requests under way; a killed peer's answer never comes.
      if (r.failure()?.errorText === 'net::ERR_ABORTED') return;
      pageErrors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
    });
  }, 150_000);

  afterAll(async () => {
    if (!haveChromium) process.stderr.write(`\n!! dashboard browser tests SKIPPED: ${CHROMIUM} is missing (see the warning above)\n\n`);
    await browser?.close().catch(() => {});
    if (child?.exitCode === null) {
      await stopDemo('SIGTERM');
      await until('the demo to stop', async () => !alive(ready?.pid) && ready.peers.every((p) => !alive(p.pid)), 20_000).catch(() => stopDemo('SIGKILL'));
    }
    writeFileSync(join(outDir, 'dashboard-report.json'), JSON.stringify(report, null, 2) + '\n');
  }, 40_000);

  it('npm start prints the URL within a minute, with three peers of capacity 10, 20 and 30 tasks/s', async () => {
    expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(msToUrl).toBeLessThan(60_000);
    expect(ready.peers.map((p) => [p.name, p.capacity, p.state])).toEqual([
      ['P1', 10, 'running'],
      ['P2', 20, 'running'],
      ['P3', 30, 'running'],
    ]);
    // The mesh forms: every peer sees the other two alive, and runs every example agent.
    await until('every peer to see the other two', async () => {
      const all = await Promise.all(['P1', 'P2', 'P3'].map(status));
      return all.every((s) => ['P1', 'P2', 'P3'].every((n) => seesAlive(s, n)));
    }, 20_000);
    const html = await (await fetch(ready.url)).text();
    expect(html).toContain('agentmesh');
  }, 60_000);

  it.skipIf(!haveChromium)('the page loads with no errors and shows three live peers', async () => {
    const t = Date.now();
    await page.goto(ready.url);
    await until('the page to sync with a peer', async () => (await attr('[data-testid=conn-status]', 'data-state')) === 'synced', 20_000);
    await until('three peer rows, all alive', async () => (await page.locator('[data-testid=peer-row][data-alive=true]').count()) === 3, 20_000);
    const names = await page.locator('[data-testid=peer-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
    expect(names).toEqual(['P1', 'P2', 'P3']);
    // Who sees whom: every peer's own view, all ✓.
    await until('the link matrix to show a full mesh', async () => (await page.locator('[data-testid=matrix] td:has-text("✓")').count()) === 6, 15_000);
    report.steps.loadMs = Date.now() - t;
    await shot('01-loaded.png');
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it.skipIf(!haveChromium)('a scenario submitted from the page raises the done count (and its faulty tasks end as dead letters)', async () => {
    const t = Date.now();
    const before = await pageDone();
    await submitFromPage('traffic', 20, 3, '', 5); // 60 tasks, every 20th always fails
    await until('the done count to rise by 57', async () => (await pageDone()) >= before + 57, 45_000);
    await until('3 dead letters', async () => Number(await attr('[data-testid=dead-count]', 'data-value')) === 3, 20_000);
    await until('a traffic forecast chart', async () => (await page.textContent('[data-testid=forecast-title]'))?.includes('forecast of the next'), 15_000);
    await until('shared data from the traffic agent', async () => (await page.locator('[data-testid=data-ns][data-ns="traffic.forecast"]').count()) === 1, 15_000);
    report.steps.scenarioMs = Date.now() - t;
    await shot('02-scenario.png');
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it.skipIf(!haveChromium)('a click on a task opens its page with the timeline of its facts; a dead letter shows its errors', async () => {
    await until('task rows', async () => (await page.locator('[data-testid=task-row][data-state=done]').count()) > 0, 10_000);
    const row = page.locator('[data-testid=task-row][data-state=done]').first();
    const id = (await row.getAttribute('data-id'))!;
    await row.click();
    await until('the task page', async () => (await attr('[data-testid=task-head]', 'data-id')) === id, 10_000);
    expect(page.url()).toContain(`#task=${encodeURIComponent(id)}`);
    const kinds = await page.locator('[data-testid=task-timeline] tr').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    expect(kinds).toEqual(expect.arrayContaining(['submitted', 'claim', 'done']));
    expect(await page.locator('[data-testid=task-run]').count()).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('[data-testid=task-runs]')).toMatch(/result/);
    await shot('03-task-page.png');
    await page.click('[data-testid=task-close]');
    await until('the task page to close', async () => await page.locator('[data-testid=task-page]').isHidden(), 5000);
    // A dead letter: every attempt with its error, and a Retry button.
    await page.locator('[data-testid=dead-row]').first().click();
    await until('the dead task page', async () => (await attr('[data-testid=task-head]', 'data-state')) === 'dead', 10_000);
    expect(await page.locator('[data-testid=task-run]').count()).toBe(3);
    expect(await page.textContent('[data-testid=task-runs]')).toMatch(/deliberate failure/);
    expect(await page.locator('[data-testid=task-retry]').count()).toBe(1);
    await shot('04-dead-task-page.png');
    await page.keyboard.press('Escape');
    await until('the task page to close', async () => await page.locator('[data-testid=task-page]').isHidden(), 5000);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it.skipIf(!haveChromium)('a search finds tasks by the text of their error', async () => {
    await page.fill('[data-testid=filter-text]', 'deliberate');
    await until('the three dead letters, and nothing else', async () => {
      const states = await page.locator('[data-testid=task-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
      return states.length === 3 && states.every((x) => x === 'dead') && (await attr('[data-testid=page-info]', 'data-total')) === '3';
    }, 10_000);
    await shot('05-search.png');
    await page.fill('[data-testid=filter-text]', '');
    await until('the whole list back', async () => Number(await attr('[data-testid=page-info]', 'data-total')) > 3, 10_000);
    expect(pageErrors).toEqual([]);
  }, 30_000);

  it.skipIf(!haveChromium)('after more than 3,000 tasks are archived (and a new document generation), the page counts what every peer counts', async () => {
    const t = Date.now();
    await submitFromPage('factory', 170, 20, '', 0); // 3,400 tasks (the peers finish 60/s)
    const settled = await until('3,000 tasks archived on every peer, nothing open, every peer agreeing', async () => {
      const all = await Promise.all(['P1', 'P2', 'P3'].map(status));
      const open = all.some((s) => (s.tasks.pending ?? 0) + (s.tasks.claimed ?? 0) + (s.tasks.running ?? 0) > 0);
      const same = all.every((s) => JSON.stringify([s.tasks, s.duplicateRuns]) === JSON.stringify([all[0]!.tasks, all[0]!.duplicateRuns]));
      return !open && same && all.every((s) => s.archived.total >= 3000) ? all : undefined;
    }, 180_000);
    report.steps.archived = settled[0]!.archived.total;
    report.steps.generation = settled[0]!.generation.n;
    // `agentmesh status` of every peer, as a user would run it from the repository root.
    const cli = await Promise.all(['P1', 'P2', 'P3'].map(async (n) => JSON.parse(await agentmesh('status', '--peer', peer(n).wsUrl, '--json')) as Status));
    for (const s of cli) expect(s.tasks).toEqual(cli[0]!.tasks);
    const cliTotal = total(cli[0]!);
    expect(cliTotal).toBeGreaterThanOrEqual(3460);
    await until("the page's counts to be the CLI's", async () => {
      const counts = await Promise.all(['pending', 'claimed', 'running', 'done', 'dead', 'cancelled'].map(pageCount));
      return Number(await attr('[data-testid=count-total]', 'data-value')) === cliTotal && counts.join() === ['pending', 'claimed', 'running', 'done', 'dead', 'cancelled'].map((k) => cli[0]!.tasks[k] ?? 0).join();
    }, 15_000);
    await until('every peer row of the replicas table to agree', async () => (await attr('[data-testid=agree]', 'data-agree')) === 'true', 15_000);
    for (const n of ['P1', 'P2', 'P3']) expect(Number(await attr(`[data-testid=replica-row][data-name=${n}]`, 'data-total'))).toBe(cliTotal);
    // The dead letters are all still there, archived or not.
    expect(Number(await attr('[data-testid=dead-count]', 'data-value'))).toBe(cli[0]!.tasks.dead);
    expect(await page.textContent('[data-testid=doc-info]')).toMatch(/generation \d+ · live document .* · archive .*\(\d[\d,]* tasks\)/);
    report.steps.archivalMs = Date.now() - t;
    await shot('06-archived.png');
    expect(pageErrors).toEqual([]);
  }, 260_000);

  it.skipIf(!haveChromium)('the task table pages past the first 150 tasks, into the archive', async () => {
    for (let i = 0; i < 3; i++) {
      const before = Number(await attr('[data-testid=page-info]', 'data-offset'));
      await page.click('[data-testid=page-next]');
      await until(`page ${i + 2}`, async () => Number(await attr('[data-testid=page-info]', 'data-offset')) === before + 50 && (await page.locator('[data-testid=task-row]').count()) === 50, 10_000);
    }
    expect(await page.textContent('[data-testid=page-info]')).toMatch(/^151–200 of /);
    await shot('07-page-4.png');
    // Oldest first (a click on the column): the archived tasks, each with its page and timeline.
    await page.click('#tasks th[data-sort=created]');
    await until('the oldest tasks first, from the archive', async () => (await attr('[data-testid=page-info]', 'data-offset')) === '0' && (await page.locator('[data-testid=task-row] .chip:has-text("archived")').count()) === 50, 10_000);
    const oldest = Number(await page.locator('[data-testid=task-row]').first().getAttribute('data-created'));
    expect(oldest).toBeGreaterThan(0);
    await page.locator('[data-testid=task-row]').nth(10).click();
    await until('an archived task page with its timeline', async () => (await page.locator('[data-testid=task-head] .badge:has-text("archived")').count()) === 1 && (await page.locator('[data-testid=task-timeline] tr').count()) >= 3, 10_000);
    await shot('08-archived-task-page.png');
    await page.keyboard.press('Escape');
    await page.click('#tasks th[data-sort=created]');
    // Newest first again: descending creation times, starting after the oldest task seen above.
    // (Whether the newest tasks are still live depends on how far the archiver has got by now.)
    await until('newest first again', async () => {
      const created = (await page.locator('[data-testid=task-row]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-created'))))) as number[];
      return (await attr('[data-testid=page-info]', 'data-offset')) === '0' && created.length === 50 && created[0]! > oldest && created.every((c, i) => i === 0 || c <= created[i - 1]!) && ((await page.textContent('#tasks th[data-sort=created]')) ?? '').includes('▼');
    }, 10_000);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it.skipIf(!haveChromium)('a partition made with the CLI shows on the page: the other side is unreachable from here, with its own figures', async () => {
    const t = Date.now();
    // P3 against P1 and P2, by name, at both ends (as a user would, with ./agentmesh).
    expect(await agentmesh('partition', '--peer', peer('P3').wsUrl, '--block', 'P1,P2')).toMatch(/^blocked: P1 .*, P2 /);
    await agentmesh('partition', '--peer', peer('P1').wsUrl, '--block', 'P3');
    await agentmesh('partition', '--peer', peer('P2').wsUrl, '--block', 'P3');
    await until('the page to show the split and its cause', async () => (await attr('[data-testid=partition-text]', 'data-split')) === 'true' && (await attr('[data-testid=partition-text]', 'data-cause')) === 'blocked', 20_000);
    expect(await page.textContent('[data-testid=partition-text]')).toMatch(/partitioned: P1 P2 {2}\| {2}P3/);
    await until('P3 unreachable from here, with its own figures', async () => (await attr('[data-testid=peer-row][data-name=P3]', 'data-word')) === 'unreachable from here' && (await attr('[data-testid=peer-row][data-name=P3]', 'data-done')) !== '', 10_000);
    await until('the matrix to show the cut', async () => (await page.locator('[data-testid=matrix] td:has-text("✕")').count()) === 4, 10_000);
    await shot('09-cli-partition.png');
    expect(await agentmesh('heal', '--peer', peer('P3').wsUrl)).toMatch(/^healed: unblocked P1, P2/);
    await agentmesh('heal', '--peer', peer('P1').wsUrl);
    await agentmesh('heal', '--peer', peer('P2').wsUrl);
    await until('the page to show the mesh whole again', async () => (await page.locator('[data-testid=matrix] td:has-text("✓")').count()) === 6 && (await attr('[data-testid=partition-text]', 'data-split')) === 'false', 20_000);
    report.steps.cliPartitionMs = Date.now() - t;
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it.skipIf(!haveChromium)('a partition made from the page (P1 P2 | P3) leaves both sides working', async () => {
    const t = Date.now();
    await page.selectOption('[data-testid=partition-groups]', { label: 'P1 P2 | P3' });
    await page.click('[data-testid=partition-btn]');
    await until('the partition to be applied', async () => (await attr('[data-testid=control-result]', 'data-state')) === 'ok', 10_000);
    // Both ends block: after the lease, each side sees the other as gone (the peers' own view).
    await until('each side to see the other gone', async () => {
      const [s1, s2, s3] = await Promise.all(['P1', 'P2', 'P3'].map(status));
      return !seesAlive(s1!, 'P3') && !seesAlive(s2!, 'P3') && !seesAlive(s3!, 'P1') && !seesAlive(s3!, 'P2') && seesAlive(s1!, 'P2') && seesAlive(s2!, 'P1');
    }, 20_000);
    await until('the page to show the cut', async () => (await page.locator('[data-testid=matrix] td:has-text("✕")').count()) === 4 && (await attr('[data-testid=partition-text]', 'data-split')) === 'true', 10_000);
    const [a0, b0] = await Promise.all([status('P1'), status('P3')]);
    const pageBefore = await pageDone();
    // Work submitted on each side, from the page.
    await submitFromPage('factory', 10, 3, 'P1');
    await submitFromPage('clinic', 10, 3, 'P3');
    await until('both sides to finish their own work', async () => {
      const [a, b] = await Promise.all([status('P1'), status('P3')]);
      return done(a) >= done(a0) + 30 && done(b) >= done(b0) + 30;
    }, 45_000);
    // Each side holds tasks the other has never seen: the sides really are apart.
    const [idsA, idsB] = await Promise.all([allTaskIds('P1'), allTaskIds('P3')]);
    expect([...idsA].filter((id) => !idsB.has(id)).length).toBeGreaterThanOrEqual(30);
    expect([...idsB].filter((id) => !idsA.has(id)).length).toBeGreaterThanOrEqual(30);
    // The page (reading through P1) sees its side's work done; the replicas table shows P3's side working too.
    await until('the page to show its side working', async () => (await pageDone()) >= pageBefore + 30, 15_000);
    await until("the page's P3 row to show the other side working", async () => Number(await attr('[data-testid=replica-row][data-name=P3]', 'data-done')) >= done(b0) + 30, 15_000);
    expect(await attr('[data-testid=agree]', 'data-agree')).toBe('false');
    report.steps.partitionMs = Date.now() - t;
    await shot('10-partitioned.png');
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it.skipIf(!haveChromium)('after heal every view agrees: the peers and the page', async () => {
    const t = Date.now();
    await page.click('[data-testid=heal-btn]');
    await until('the heal to be applied', async () => (await attr('[data-testid=control-result]', 'data-state')) === 'ok', 10_000);
    const final = await until('all peers to agree on a settled board', async () => {
      const all = await Promise.all(['P1', 'P2', 'P3'].map(status));
      const key = (s: Status) => JSON.stringify([s.tasks, s.duplicateRuns]);
      const settled = all.every((s) => (s.tasks.pending ?? 0) + (s.tasks.claimed ?? 0) + (s.tasks.running ?? 0) === 0);
      const mesh = all.every((s) => ['P1', 'P2', 'P3'].every((n) => seesAlive(s, n)));
      return settled && mesh && all.every((s) => key(s) === key(all[0]!)) ? all[0] : undefined;
    }, 60_000);
    const [i1, i2, i3] = await Promise.all(['P1', 'P2', 'P3'].map(allTaskIds));
    expect([...i1!].sort()).toEqual([...i2!].sort());
    expect([...i1!].sort()).toEqual([...i3!].sort());
    await until('the page to agree with every peer', async () => {
      const agree = (await attr('[data-testid=agree]', 'data-agree')) === 'true';
      return agree && (await pageDone()) === done(final) && Number(await attr('[data-testid=count-total]', 'data-value')) === total(final);
    }, 20_000);
    await until('the page to show the mesh whole again', async () => (await page.locator('[data-testid=matrix] td:has-text("✓")').count()) === 6, 10_000);
    report.steps.healMs = Date.now() - t;
    await shot('11-healed.png');
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it.skipIf(!haveChromium)('a reload keeps the charts (the peers keep their metrics) and the open task page', async () => {
    const before = Number(await attr('[data-testid=chart-tasks]', 'data-points'));
    expect(before).toBeGreaterThan(20);
    const id = (await page.locator('[data-testid=task-row]').first().getAttribute('data-id'))!;
    await page.locator('[data-testid=task-row]').first().click();
    await until('the task page', async () => (await attr('[data-testid=task-head]', 'data-id')) === id, 10_000);
    const t0 = Date.now();
    await page.reload();
    await until('the charts back with their history', async () => Number(await attr('[data-testid=chart-tasks]', 'data-points')) >= before, 10_000);
    report.steps.reloadChartsMs = Date.now() - t0;
    await until('the task page open again', async () => (await attr('[data-testid=task-head]', 'data-id')) === id, 10_000);
    await page.keyboard.press('Escape');
    await shot('12-reloaded.png');
    expect(pageErrors).toEqual([]);
  }, 40_000);

  it.skipIf(!haveChromium)("killing the page's peer keeps the last state, moves the page to another peer; restart brings it back", async () => {
    const t = Date.now();
    const doneBefore = await pageDone();
    allowSocketErrors = true;
    await page.click('[data-testid=kill-P1]');
    await until('P1 to be killed', async () => (await attr('[data-testid=control-result]', 'data-state')) === 'ok', 10_000);
    expect(alive(peer('P1').pid)).toBe(false);
    // The page kept its replica (no count went back) and syncs through another peer.
    await until('the page to move to another live peer', async () => {
      const st = await attr('[data-testid=conn-status]', 'data-state');
      const via = await attr('[data-testid=conn-status]', 'data-peer');
      return st === 'synced' && via !== 'P1';
    }, 20_000);
    expect(await pageDone()).toBeGreaterThanOrEqual(doneBefore);
    await until('the page to see P1 away', async () => (await attr('[data-testid=peer-row][data-name=P1]', 'data-word')) === 'away', 15_000);
    expect(await page.textContent('[data-testid=peer-row][data-name=P1]')).toMatch(/last known/);
    await shot('13-killed.png');
    await page.click('[data-testid=restart-P1]');
    await until('P1 to restart', async () => (await attr('[data-testid=control-result]', 'data-state')) === 'ok', 40_000);
    await until('the page to see P1 alive again', async () => (await attr('[data-testid=peer-row][data-name=P1]', 'data-alive')) === 'true', 20_000);
    await until('the mesh to be whole again, by every peer', async () => (await page.locator('[data-testid=matrix] td:has-text("✓")').count()) === 6, 20_000);
    const p = (await getJson<{ peers: ReadyPeer[] }>(`${ready.url}demo/peers`)).peers.find((x) => x.name === 'P1')!;
    expect(p.peerId).toBe(peer('P1').peerId); // same data dir, same identity
    report.steps.killRestartMs = Date.now() - t;
    await shot('14-restarted.png');
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('Ctrl-C stops everything', async () => {
    const peers = (await getJson<{ peers: ReadyPeer[] }>(`${ready.url}demo/peers`)).peers;
    const pids = [ready.pid, ...peers.map((p) => p.pid)].filter((x): x is number => typeof x === 'number');
    expect(pids.every(alive)).toBe(true);
    await stopDemo('SIGINT');
    await until('every demo process to exit', async () => pids.every((pid) => !alive(pid)), 25_000);
    await until('the demo to say it stopped', async () => stderrLines.some((l) => l.includes('agentmesh demo: stopped')), 5_000);
    await until('npm start to exit', async () => child.exitCode !== null, 10_000);
    expect(child.exitCode).toBe(0);
    expect(stderrLines.join('\n')).not.toMatch(/ELIFECYCLE|Command failed/);
  }, 40_000);
});
