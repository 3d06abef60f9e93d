// The board's shared data (namespace/key -> JSON value written by a peer): the validated index of
// its Y.Map and the validated write of one entry (name rules, plain JSON, size limit).

import * as Y from 'yjs';
import { MeshError } from '@agentmesh/scheduler';
import { LIMITS, ROOT, dataKey, jsonSize, parseDataEntry, validateDataName, type DataEntry } from './schema.js';
import type { BoardContext } from './board-types.js';

/** @internal Owned by one TaskBoard. */
export class DataIndex {
  readonly dataMap: Y.Map<unknown>;
  readonly entries = new Map<string, DataEntry>();

  constructor(
    doc: Y.Doc,
    private readonly ctx: BoardContext,
  ) {
    this.dataMap = doc.getMap(ROOT.data);
  }

  clearIndex(): void {
    this.entries.clear();
  }

  ingestData(k: string): void {
    const raw = this.dataMap.get(k);
    if (raw === undefined) {
      this.entries.delete(k);
      return;
    }
    const parsed = parseDataEntry(k, raw);
    const t = this.ctx.trust;
    if (!parsed.ok || (t && !this.ctx.isLocal() && !t.checkEntry(ROOT.data, k, raw, parsed.value.by))) {
      this.entries.delete(k);
      if (!parsed.ok) this.ctx.reject(ROOT.data, k, parsed.reason);
      return;
    }
    this.entries.set(k, parsed.value);
  }

  writeData(namespace: string, key: string, value: unknown, by: string, at: number, task?: string): DataEntry {
    const problem = validateDataName(namespace, key);
    if (problem) throw new MeshError('INVALID_ARGUMENT', problem);
    const size = jsonSize(value);
    if (size < 0) throw new MeshError('INVALID_ARGUMENT', 'data value is not plain JSON');
    if (size > LIMITS.valueBytes) throw new MeshError('INVALID_ARGUMENT', `data value is ${size} bytes, over the ${LIMITS.valueBytes}-byte limit`);
    const entry: Record<string, unknown> = { value: value ?? null, by, at };
    if (task !== undefined) entry.task = task;
    const full = dataKey(namespace, key);
    const t = this.ctx.trust;
    this.ctx.transact(() => this.dataMap.set(full, t ? t.signed(ROOT.data, full, entry) : entry));
    return { namespace, key, value: value ?? null, by, at, task };
  }

  data(namespace?: string): DataEntry[] {
    const all = [...this.entries.values()];
    return namespace === undefined ? all : all.filter((e) => e.namespace === namespace);
  }

  getData(namespace: string, key: string): DataEntry | undefined {
    return this.entries.get(dataKey(namespace, key));
  }
}
