// The tasks whose round 1 was assigned to this peer and that it has not started yet, best first
// (priority, then age, then id): a binary heap, so a backlog of tens of thousands costs log n per
// task. Removal is lazy: an id taken out of the membership set is skipped when it reaches the top.

import type { TaskSpec } from '@agentmesh/scheduler';

interface Entry {
  id: string;
  priority: number;
  createdAt: number;
}

/** a before b: higher priority, then older, then smaller id. */
function before(a: Entry, b: Entry): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt;
  return a.id < b.id;
}

export class AssignedQueue {
  private readonly heap: Entry[] = [];
  private readonly members = new Set<string>();

  get size(): number {
    return this.members.size;
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  add(spec: Pick<TaskSpec, 'id' | 'priority' | 'createdAt'>): void {
    if (this.members.has(spec.id)) return;
    this.members.add(spec.id);
    this.heap.push({ id: spec.id, priority: spec.priority, createdAt: spec.createdAt });
    this.up(this.heap.length - 1);
  }

  delete(id: string): void {
    this.members.delete(id);
    if (this.members.size === 0) this.heap.length = 0;
  }

  /** Takes the best task out of the queue. */
  pop(): string | undefined {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      const last = this.heap.pop()!;
      if (this.heap.length > 0) {
        this.heap[0] = last;
        this.down(0);
      }
      if (this.members.delete(top.id)) return top.id;
    }
    return undefined;
  }

  clear(): void {
    this.heap.length = 0;
    this.members.clear();
  }

  ids(): IterableIterator<string> {
    return this.members.values();
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
