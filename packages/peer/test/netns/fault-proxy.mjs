// A small TCP forwarding proxy that makes a link slow or broken, for the network-namespace tests
// (this kernel has no netem). It runs as its own process inside a peer's namespace, in front of
// the peer's libp2p port (iptables REDIRECT sends every inbound connection to it), and forwards to
// --target. Plain Node, no dependencies, so the test can start it with `ip netns exec NS node`.
//
//   node fault-proxy.mjs --port 4101 --target 10.77.0.10:4001
//
// Faults, set on start (flags) or at any time by one JSON line on stdin, e.g. {"delayMs":80}:
//   delayMs, jitterMs  every chunk, both directions, waits delayMs +- jitterMs (order kept);
//   stall              true: forward nothing and close nothing (a silent, half-open link: both
//                      TCP connections stay healthy, the bytes just never arrive); false: resume;
//   stallFrom          a list of client addresses: stall only the connections coming from them;
//   cut                true once: reset every open connection now (both sides see a reset);
//   refuse             true: reset new connections at once (the port looks closed); false: accept.
// Prints {"event":"ready",...} when listening and {"event":"stats",...} on {"stats":true}.

import net from 'node:net';
import { createInterface } from 'node:readline';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const port = Number(args.port);
const [targetHost, targetPort] = String(args.target).split(':');
const cfg = { delayMs: Number(args.delay ?? 0), jitterMs: Number(args.jitter ?? 0), stall: false, stallFrom: [], refuse: false };
const stats = { accepted: 0, cut: 0, refused: 0, bytes: 0, open: 0 };
const pairs = new Set();

/** One direction: chunks are released in order, each no sooner than its own delay. */
function pipe(from, to, stalled) {
  const queue = [];
  let last = 0;
  let timer = null;
  let held = 0;
  const flush = () => {
    timer = null;
    if (stalled()) return;
    const now = Date.now();
    while (queue.length > 0 && queue[0].at <= now) {
      const { chunk } = queue.shift();
      held -= chunk.length;
      stats.bytes += chunk.length;
      if (!to.destroyed) to.write(chunk);
    }
    if (held < 1 << 20 && from.isPaused()) from.resume();
    if (queue.length > 0) timer = setTimeout(flush, Math.max(0, queue[0].at - now));
  };
  from.on('data', (chunk) => {
    const jitter = cfg.jitterMs > 0 ? (Math.random() * 2 - 1) * cfg.jitterMs : 0;
    const at = Math.max(last, Date.now() + Math.max(0, cfg.delayMs + jitter));
    last = at;
    queue.push({ chunk, at });
    held += chunk.length;
    if (held >= 1 << 20) from.pause();
    if (!timer && !stalled()) timer = setTimeout(flush, Math.max(0, at - Date.now()));
  });
  return { kick: () => !timer && queue.length > 0 && !stalled() && (timer = setTimeout(flush, 0)) };
}

const server = net.createServer((client) => {
  if (cfg.refuse) {
    stats.refused++;
    client.resetAndDestroy();
    return;
  }
  stats.accepted++;
  const upstream = net.connect(Number(targetPort), targetHost);
  const from = String(client.remoteAddress).replace(/^::ffff:/, '');
  const stalled = () => cfg.stall || cfg.stallFrom.includes(from);
  const pair = { client, upstream, stalled, ups: pipe(client, upstream, stalled), downs: pipe(upstream, client, stalled), end: () => {} };
  pairs.add(pair);
  stats.open++;
  const end = (pair.end = () => {
    if (!pairs.delete(pair)) return;
    stats.open--;
    // Closing is a fault only when asked for: a stalled link keeps both sides open.
    client.destroy();
    upstream.destroy();
  });
  for (const s of [client, upstream]) {
    s.setNoDelay(true);
    s.on('error', end);
    s.on('close', () => !stalled() && end());
    s.on('end', () => !stalled() && end());
  }
});

function apply(change) {
  if (typeof change.delayMs === 'number') cfg.delayMs = change.delayMs;
  if (typeof change.jitterMs === 'number') cfg.jitterMs = change.jitterMs;
  if (typeof change.refuse === 'boolean') cfg.refuse = change.refuse;
  if (typeof change.stall === 'boolean') cfg.stall = change.stall;
  if (Array.isArray(change.stallFrom)) cfg.stallFrom = change.stallFrom.map(String);
  if (typeof change.stall === 'boolean' || Array.isArray(change.stallFrom)) {
    // Links that are no longer stalled resume (or end, if a side closed meanwhile).
    for (const p of [...pairs]) {
      if (p.stalled()) continue;
      if (p.client.destroyed || p.upstream.destroyed) p.end();
      else p.ups.kick(), p.downs.kick();
    }
  }
  if (change.cut === true) {
    for (const p of [...pairs]) {
      stats.cut++;
      pairs.delete(p);
      stats.open--;
      p.client.resetAndDestroy();
      p.upstream.resetAndDestroy();
    }
  }
  if (change.stats) process.stdout.write(JSON.stringify({ event: 'stats', ...stats, ...cfg }) + '\n');
}

createInterface({ input: process.stdin }).on('line', (line) => {
  try {
    apply(JSON.parse(line));
    process.stdout.write(JSON.stringify({ event: 'ok', ...cfg }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ event: 'error', error: String(e) }) + '\n');
  }
});
process.stdin.on('end', () => process.exit(0));
server.listen(port, '0.0.0.0', () => process.stdout.write(JSON.stringify({ event: 'ready', port, target: args.target }) + '\n'));
