// Faults the Lab's iproute2 commands cannot make: silent one-way drops and random packet loss with
// iptables, and a slow or stalled link with the userspace proxy (fault-proxy.mjs) put in front of a
// peer's libp2p port by an iptables REDIRECT, so every connection to that peer passes through it.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Lab } from './lab.js';
import { LIBP2P_PORT } from './mesh.js';

const PROXY = fileURLToPath(new URL('./fault-proxy.mjs', import.meta.url));
const PROXY_PORT = 4101;

/** Silently drops every packet from the `from` peers at the `to` peers (one direction only). */
export async function dropFrom(lab: Lab, from: number[], to: number[]): Promise<void> {
  for (const t of to) for (const f of from) await lab.iptables(t, '-A', 'INPUT', '-s', lab.nodes[f]!.addr, '-j', 'DROP');
}

/** Silently drops every packet peer i sends on the data network (it still receives everything). */
export async function dropOutgoing(lab: Lab, i: number): Promise<void> {
  await lab.iptables(i, '-A', 'OUTPUT', '-o', 'eth0', '-j', 'DROP');
}

/** Drops this fraction of the packets each given peer receives on the data network (real loss). */
export async function randomLoss(lab: Lab, peers: number[], probability: number): Promise<void> {
  for (const i of peers) await lab.iptables(i, '-A', 'INPUT', '-i', 'eth0', '-m', 'statistic', '--mode', 'random', '--probability', String(probability), '-j', 'DROP');
}

/** Lifts every filter rule (drops, loss) of the given peers; proxies' redirects stay. */
export async function clearDrops(lab: Lab, peers: number[]): Promise<void> {
  for (const i of peers) await lab.iptables(i, '-F');
}

export interface ProxyChange {
  delayMs?: number;
  jitterMs?: number;
  stall?: boolean;
  /** Client addresses whose connections are stalled. */
  stallFrom?: string[];
  cut?: boolean;
  refuse?: boolean;
  stats?: boolean;
}

export class FaultProxy {
  private waiters: ((line: Record<string, unknown>) => void)[] = [];

  constructor(
    readonly index: number,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        const j = JSON.parse(l) as Record<string, unknown>;
        this.waiters.shift()?.(j);
      } catch {
        /* ignore */
      }
    });
  }

  /** Changes the proxy's faults; resolves with its answer line. */
  set(change: ProxyChange): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`proxy ${this.index} did not answer ${JSON.stringify(change)}`)), 5000);
      this.waiters.push((j) => {
        clearTimeout(t);
        resolve(j);
      });
      this.child.stdin!.write(JSON.stringify(change) + '\n');
    });
  }

  async stats(): Promise<Record<string, unknown>> {
    // Two lines come back: the stats, then the ok.
    const stats = new Promise<Record<string, unknown>>((resolve) => this.waiters.push(resolve));
    await this.set({ stats: true });
    return stats;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill('SIGKILL');
    });
  }
}

/**
 * Starts a fault proxy in peer i's namespace and redirects every inbound connection to the peer's
 * libp2p port through it. Do it before the peer's first connection: connections that exist before
 * the redirect keep going straight to the peer.
 */
export async function startProxy(lab: Lab, i: number, initial: ProxyChange = {}): Promise<FaultProxy> {
  const n = lab.nodes[i]!;
  const child = spawn('ip', ['netns', 'exec', n.ns, process.execPath, PROXY, '--port', String(PROXY_PORT), '--target', `${n.addr}:${LIBP2P_PORT}`, '--delay', String(initial.delayMs ?? 0), '--jitter', String(initial.jitterMs ?? 0)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`fault proxy in ${n.ns} not ready`)), 15_000);
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => {
      clearTimeout(t);
      rl.close();
      if (l.includes('"ready"')) resolve();
      else reject(new Error(`fault proxy in ${n.ns}: ${l}`));
    });
    child.once('exit', (code) => reject(new Error(`fault proxy in ${n.ns} exited ${code}`)));
  });
  await lab.iptables(i, '-t', 'nat', '-A', 'PREROUTING', '-i', 'eth0', '-p', 'tcp', '-d', n.addr, '--dport', String(LIBP2P_PORT), '-j', 'REDIRECT', '--to-ports', String(PROXY_PORT));
  return new FaultProxy(i, child);
}
