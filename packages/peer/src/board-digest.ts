// A short fingerprint of a board: FNV-1a over the sorted "id:state" pairs of every task. Two views
// with the same fingerprint hold the same tasks in the same states (counts alone can match by
// chance, e.g. both sides of a partition with as many tasks done). In the browser-safe core so the
// demo server (for each peer's /api/tasks) and the dashboard (for its own replica) compute it with
// the same code: plain TypeScript, no Node, no DOM.

export function boardDigest(tasks: Iterable<{ id: string; state: string }>): string {
  const pairs: string[] = [];
  for (const t of tasks) pairs.push(`${t.id}:${t.state}`);
  pairs.sort();
  let h = 0x811c9dc5;
  for (const p of pairs) {
    for (let i = 0; i < p.length; i++) {
      h ^= p.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h ^= 10;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
