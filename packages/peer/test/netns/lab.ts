// A network of Linux network namespaces for the real-network fault tests: one namespace per peer,
// each with its own address on a data network, and a "switch" namespace holding two bridges (left
// and right) joined by a trunk veth pair. Faults are made with the kernel's own tools:
//   - a split: the trunk (left | right) or one peer's switch port taken down (iproute2);
//   - a one-way split / half-open connection: iptables DROP in one direction (no RST, no FIN);
//   - an address change: the peer's interface re-addressed;
//   - delay and loss: a userspace TCP proxy in front of a peer (fault-proxy.mjs, iptables REDIRECT)
//     and iptables' random drop (real packet loss, recovered by the kernel's TCP).
// The test process reaches each peer's HTTP/websocket API over a separate management link (a veth
// pair from the root namespace into the peer's namespace) that no fault touches.
//
// Everything a Lab creates is named with the creating process's pid, so destroy() removes it and a
// later run removes what a killed run left behind (its namespaces, and the processes in them).

import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const PREFIX = 'amt-';

export type Side = 'L' | 'R';

export interface LabNode {
  index: number;
  /** Network namespace name. */
  ns: string;
  side: Side;
  /** Address on the data network (what libp2p listens on). */
  addr: string;
  /** Address of the management link, reachable from the test process. */
  mgmt: string;
  /** The peer's port on the switch (in the switch namespace). */
  port: string;
}

/** Why namespaces cannot be used here, or undefined when they can. */
export function namespacesUnavailable(): string | undefined {
  if (process.env.AGENTMESH_NETNS === 'skip') return 'AGENTMESH_NETNS=skip is set';
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (ip netns add)';
  if (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && !existsSync('/usr/bin/ip')) return 'needs iproute2 (the ip command)';
  const probe = `${PREFIX}${process.pid}-probe`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  } catch (e) {
    return `ip netns add failed: ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim()}`;
  }
  return undefined;
}

/** Why iptables cannot be used in a namespace here, or undefined when it can. */
export function iptablesUnavailable(): string | undefined {
  const probe = `${PREFIX}${process.pid}-ipt`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
  } catch (e) {
    return `ip netns add failed: ${(e as Error).message}`;
  }
  try {
    execFileSync('ip', ['netns', 'exec', probe, 'iptables', '-w', '-A', 'INPUT', '-s', '192.0.2.99', '-m', 'statistic', '--mode', 'random', '--probability', '0.5', '-j', 'DROP'], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'exec', probe, 'iptables', '-w', '-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '1', '-j', 'REDIRECT', '--to-ports', '2'], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === 'ENOENT' || /No such file|not found/i.test(String(err.stderr ?? err.message))) return 'iptables is not installed (apt-get install -y iptables; scripts/bootstrap.mjs does it as root)';
    return `iptables does not work here: ${String(err.stderr ?? err.message).trim()}`;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
    } catch {
      /* gone */
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function listNamespaces(): Promise<string[]> {
  const { stdout } = await exec('ip', ['netns', 'list']);
  return stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

/** Processes still running inside a namespace (the peers and proxies a test started there). */
async function pidsIn(ns: string): Promise<number[]> {
  try {
    const { stdout } = await exec('ip', ['netns', 'pids', ns]);
    return stdout.split('\n').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

async function removeNamespace(ns: string): Promise<void> {
  for (const pid of await pidsIn(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await exec('ip', ['netns', 'del', ns]).catch(() => {});
}

/** Removes namespaces (and the processes in them) left by earlier test runs whose process is gone. */
export async function sweepStale(): Promise<string[]> {
  const removed: string[] = [];
  for (const ns of await listNamespaces()) {
    const m = /^amt-(\d+)-/.exec(ns);
    if (!m || alive(Number(m[1]))) continue;
    await removeNamespace(ns);
    removed.push(ns);
  }
  return removed;
}

const lockOf = (net: number) => join(tmpdir(), `amt-mgmt-10.213.${net}.lock`);

/**
 * Claims a management subnet 10.213.<net>.0/24 for one lab. Test files run in parallel workers,
 * so the claim is a lock file created exclusively (a dead owner's lock is taken over), and a
 * subnet already on a root-namespace interface is skipped.
 */
async function claimMgmtNet(): Promise<number> {
  const used = (await exec('ip', ['-4', '-o', 'addr'])).stdout;
  const start = randomBytes(1)[0]! % 250;
  const retried = new Set<number>();
  for (let k = 0; k < 250; k++) {
    const net = 1 + ((start + k) % 250);
    if (used.includes(`10.213.${net}.`)) continue;
    const file = lockOf(net);
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return net;
    } catch {
      let owner = NaN;
      try {
        owner = Number(readFileSync(file, 'utf8'));
      } catch {
        /* removed meanwhile */
      }
      if (Number.isInteger(owner) && owner > 0 && !alive(owner) && !retried.has(net)) {
        retried.add(net);
        rmSync(file, { force: true });
        k--; // try this subnet again
      }
    }
  }
  throw new Error('no free management subnet 10.213.x.0/24 (too many labs?)');
}

function releaseMgmtNet(net: number): void {
  try {
    if (Number(readFileSync(lockOf(net), 'utf8')) === process.pid) rmSync(lockOf(net), { force: true });
  } catch {
    /* gone */
  }
}

export interface LabOptions {
  /** Side of each peer: its length is the number of peers. */
  sides: Side[];
}

export class Lab {
  readonly nodes: LabNode[] = [];
  readonly switchNs: string;
  private readonly namespaces: string[] = [];
  private destroyed = false;

  private constructor(
    readonly id: string,
    /** Third octet of the management links, 10.213.<net>.x (chosen per lab). */
    private readonly mgmtNet: number,
  ) {
    this.switchNs = `${PREFIX}${process.pid}-${id}-sw`;
  }

  /** Builds the network; on any failure it removes what it built and throws. */
  static async create(opts: LabOptions): Promise<Lab> {
    await sweepStale();
    const lab = new Lab(randomBytes(3).toString('hex'), await claimMgmtNet());
    try {
      await lab.build(opts);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  private async ns(name: string): Promise<string> {
    await exec('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await this.ip(name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /** Runs `ip -n NS ...`. */
  async ip(ns: string, ...args: string[]): Promise<void> {
    await exec('ip', ['-n', ns, ...args]);
  }

  /** Runs a command inside a namespace and returns its stdout. */
  async inNs(ns: string, cmd: string, ...args: string[]): Promise<string> {
    const { stdout } = await exec('ip', ['netns', 'exec', ns, cmd, ...args]);
    return stdout;
  }

  private async build(opts: LabOptions): Promise<void> {
    const sw = await this.ns(this.switchNs);
    for (const br of ['brL', 'brR']) {
      await this.ip(sw, 'link', 'add', br, 'type', 'bridge');
      await this.ip(sw, 'link', 'set', br, 'up');
    }
    await this.ip(sw, 'link', 'add', 'trL', 'type', 'veth', 'peer', 'name', 'trR');
    await this.ip(sw, 'link', 'set', 'trL', 'master', 'brL');
    await this.ip(sw, 'link', 'set', 'trR', 'master', 'brR');
    await this.ip(sw, 'link', 'set', 'trL', 'up');
    await this.ip(sw, 'link', 'set', 'trR', 'up');
    for (const [i, side] of opts.sides.entries()) {
      const ns = await this.ns(`${PREFIX}${process.pid}-${this.id}-n${i}`);
      const port = `p${i}`;
      const addr = `10.77.0.${10 + i}`;
      const mgmt = `10.213.${this.mgmtNet}.${4 * i + 2}`;
      const hostEnd = `amt${this.id}m${i}`;
      // Data link: eth0 in the peer's namespace, its other end a port of the side's bridge.
      await this.ip(sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await this.ip(sw, 'link', 'set', port, 'master', side === 'L' ? 'brL' : 'brR');
      await this.ip(sw, 'link', 'set', port, 'up');
      await this.ip(ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
      await this.ip(ns, 'link', 'set', 'eth0', 'up');
      // Management link: from the root namespace (where the test runs) to this namespace only.
      await exec('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'mgmt', 'netns', ns]);
      await exec('ip', ['addr', 'add', `10.213.${this.mgmtNet}.${4 * i + 1}/30`, 'dev', hostEnd]);
      await exec('ip', ['link', 'set', hostEnd, 'up']);
      await this.ip(ns, 'addr', 'add', `${mgmt}/30`, 'dev', 'mgmt');
      await this.ip(ns, 'link', 'set', 'mgmt', 'up');
      this.nodes.push({ index: i, ns, side, addr, mgmt, port });
    }
  }

  /** Takes the trunk between the bridges down (left | right) or brings it back up. */
  async trunk(up: boolean): Promise<void> {
    await this.ip(this.switchNs, 'link', 'set', 'trL', up ? 'up' : 'down');
  }

  /** Takes a peer's switch port down (the peer is cut off from everyone) or brings it back up. */
  async port(i: number, up: boolean): Promise<void> {
    await this.ip(this.switchNs, 'link', 'set', this.nodes[i]!.port, up ? 'up' : 'down');
  }

  /**
   * Gives peer i a new data address in place of the old one (removed first: deleting a primary
   * address also deletes the secondaries of its subnet). Connections on the old address go silent.
   */
  async readdress(i: number, addr: string): Promise<string> {
    const n = this.nodes[i]!;
    await this.ip(n.ns, 'addr', 'del', `${n.addr}/24`, 'dev', 'eth0');
    await this.ip(n.ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    n.addr = addr;
    return addr;
  }

  /** Runs iptables (waiting for the xtables lock) in peer i's namespace. */
  async iptables(i: number, ...args: string[]): Promise<void> {
    await exec('ip', ['netns', 'exec', this.nodes[i]!.ns, 'iptables', '-w', ...args]);
  }

  /** Flushes every iptables rule of peer i's namespace (filter and nat). */
  async iptablesFlush(i: number): Promise<void> {
    await this.iptables(i, '-F');
    await this.iptables(i, '-t', 'nat', '-F');
  }

  /** The process ids running in this lab's namespaces. */
  async pids(): Promise<number[]> {
    return (await Promise.all(this.namespaces.map(pidsIn))).flat();
  }

  /** Kills what still runs in the lab's namespaces and deletes them (with every link in them). */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const ns of [...this.namespaces].reverse()) await removeNamespace(ns);
    // The management ends in the root namespace die with their peers; make sure.
    for (const n of this.nodes) await exec('ip', ['link', 'del', `amt${this.id}m${n.index}`]).catch(() => {});
    releaseMgmtNet(this.mgmtNet);
  }

  /** Namespaces and root-namespace links of this lab that still exist (for the cleanup check). */
  async leftovers(): Promise<string[]> {
    const all = new Set(await listNamespaces());
    const left = this.namespaces.filter((ns) => all.has(ns));
    const { stdout } = await exec('ip', ['-o', 'link']);
    for (const n of this.nodes) if (stdout.includes(`amt${this.id}m${n.index}`)) left.push(`amt${this.id}m${n.index}`);
    return left;
  }
}
