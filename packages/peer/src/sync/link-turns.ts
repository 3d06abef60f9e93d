// Which links a periodic message goes to when a peer has many. Up to ALL_LINKS_UP_TO links every
// message goes to every link (nothing changes for small meshes, nor for the simulator). Above
// that the links take turns, by two rules:
//
// - Presences (heartbeats): each beat reaches about ALL_LINKS_UP_TO links. Link i of the sorted
//   list hears the beats whose turn is i modulo ceil(n / ALL_LINKS_UP_TO), so every link still
//   hears each peer directly every few beats (every second beat, 1 s, at 17-32 links) and relayed
//   sequences fill the beats between. A 30-peer mesh on two cores spent most of its idle CPU on
//   presences, 58 a second per peer each way, and under load the starved loops let leases lapse.
// - Anti-entropy notices (our state vector): NOTICE_FANOUT links per round, a window moving round
//   by round. Every peer still hears that many notices a round (and pulls from any that is
//   ahead); 30 idle peers went from 1.44 to 1.12 cores. (docs/performance.md)

/** Up to this many links, every presence and every notice goes to each of them. */
export const ALL_LINKS_UP_TO = 16;
/** Above that, an anti-entropy round notifies this many of them, taking turns. */
export const NOTICE_FANOUT = 8;

/** The links beat number `turn` reaches, or undefined for all of them. */
export function presenceTurn(peers: readonly string[], turn: number): string[] | undefined {
  const n = peers.length;
  if (n <= ALL_LINKS_UP_TO) return undefined;
  const every = Math.ceil(n / ALL_LINKS_UP_TO);
  const slot = turn % every;
  return [...peers].sort().filter((_, i) => i % every === slot);
}

/** Each of the connected `peers` (in a stable order) with whether round number `turn` notifies it. */
export function noticeTurn(peers: readonly string[], turn: number): [string, boolean][] {
  const n = peers.length;
  if (n <= ALL_LINKS_UP_TO) return peers.map((p) => [p, true]);
  const first = (turn * NOTICE_FANOUT) % n;
  return peers.map((p, i) => [p, (i - first + n) % n < NOTICE_FANOUT]);
}
