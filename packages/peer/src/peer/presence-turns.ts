// Which links a heartbeat's presence goes to. Up to PRESENCE_ALL_UP_TO links, every one, every
// beat (nothing changes for small meshes, nor for the simulator). Above that, each beat reaches
// about that many of them, taking turns: link i of the sorted list hears beats whose turn is i
// modulo ceil(n / PRESENCE_ALL_UP_TO), so every link still hears each peer directly every few
// beats (every second beat, 1 s, at 17-32 links) and relayed sequences fill the beats between.
// A 30-peer mesh on two cores spent most of its idle CPU on presences, 58 a second per peer each
// way, and under load the starved loops let leases lapse (docs/performance.md).

/** Up to this many links, every heartbeat goes to each of them. */
export const PRESENCE_ALL_UP_TO = 16;

/** The links beat number `turn` reaches, or undefined for all of them. */
export function presenceTurn(peers: readonly string[], turn: number): string[] | undefined {
  const n = peers.length;
  if (n <= PRESENCE_ALL_UP_TO) return undefined;
  const every = Math.ceil(n / PRESENCE_ALL_UP_TO);
  const slot = turn % every;
  return [...peers].sort().filter((_, i) => i % every === slot);
}
