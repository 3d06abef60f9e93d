// Naming what a damaged log record held, so a peer can say which tasks it could not read. The
// record failed its checksum, but one bad byte usually leaves most of a Yjs update decodable: the
// task batches it created (their task ids) and the activity it recorded (claims, results of which
// tasks) are read from it as far as they still decode. Best effort, for the operator's log only:
// nothing read here ever enters the document.

import * as Y from 'yjs';
import { decodeActivity, decodeTaskBatch } from './batch-codec.js';
import { isGenerationRecord } from './log-codec.js';
import { ROOT } from './schema.js';

export interface DamagedUpdateNames {
  /** Tasks the record created (task batches in it). */
  created: string[];
  /** Tasks whose claims, results or failures the record held. */
  touched: string[];
  /** Other entries it wrote, as root/key. */
  entries: string[];
  /** The record was a generation record (a whole new generation's document). */
  generation: boolean;
  /** Nothing could be decoded. */
  unreadable: boolean;
}

/** What a damaged logged update held, as far as its bytes still decode. */
export function namesInDamagedUpdate(payload: Uint8Array): DamagedUpdateNames {
  const out: DamagedUpdateNames = { created: [], touched: [], entries: [], generation: false, unreadable: false };
  if (isGenerationRecord(payload)) {
    out.generation = true;
    return out;
  }
  const created = new Set<string>();
  const touched = new Set<string>();
  const entries = new Set<string>();
  try {
    for (const s of Y.decodeUpdate(payload).structs) {
      if (!(s instanceof Y.Item) || typeof s.parent !== 'string' || !s.parentSub) continue;
      const bytes = s.content instanceof Y.ContentBinary ? s.content.content : undefined;
      if (s.parent === ROOT.segs) {
        const batch = decodeTaskBatch(s.parentSub, bytes);
        if (batch.ok) {
          for (const t of batch.value.tasks) created.add(t.spec.id);
          continue;
        }
      } else if (s.parent === ROOT.acts) {
        const act = decodeActivity(bytes);
        if (act.ok) {
          for (const r of act.value.records) touched.add(r.task);
          continue;
        }
      }
      entries.add(`${s.parent}/${s.parentSub}`);
    }
  } catch {
    out.unreadable = true;
  }
  out.created = [...created];
  out.touched = [...touched];
  out.entries = [...entries];
  return out;
}
