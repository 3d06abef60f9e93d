// The allow-list alternative to the mesh secret (docs/security.md): `agentmesh peer --allow
// ID[,ID]` and/or `--allow-file FILE` (one peer id per line, # comments). Only those keys (and the
// peer itself) may connect and only their entries count. Every id must be a libp2p Ed25519 peer id
// (12D3KooW...: it embeds the key its entries are checked with); anything else is refused before
// the peer starts, as a UsageError (exit 2).

import { readFile } from 'node:fs/promises';
import { ed25519KeyOfPeerId } from '@agentmesh/crdt-store';
import { UsageError, type FlagValues } from './flags.js';

/** Peer ids of an allow-list file: one per line, `#` starts a comment, blank lines skipped. */
export function parseAllowFile(text: string, file: string): string[] {
  const ids: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const id = line.replace(/#.*$/, '').trim();
    if (id === '') return;
    if (!ed25519KeyOfPeerId(id)) throw new UsageError(`--allow-file ${file} line ${i + 1}: ${JSON.stringify(id.slice(0, 80))} is not an Ed25519 peer id (12D3KooW...)`);
    ids.push(id);
  });
  return ids;
}

/** The allow-list the flags give, or undefined when neither --allow nor --allow-file is set. */
export async function allowListOf(v: FlagValues): Promise<Set<string> | undefined> {
  const given = v.allow as string[] | undefined;
  const file = v['allow-file'] === undefined ? undefined : String(v['allow-file']);
  if (given === undefined && file === undefined) return undefined;
  const ids = new Set<string>();
  for (const id of given ?? []) {
    if (!ed25519KeyOfPeerId(id)) throw new UsageError(`--allow ${JSON.stringify(id.slice(0, 80))} is not an Ed25519 peer id (12D3KooW...)`);
    ids.add(id);
  }
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read --allow-file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    for (const id of parseAllowFile(text, file)) ids.add(id);
  }
  if (ids.size === 0) throw new UsageError(`${file !== undefined ? `--allow-file ${file}` : '--allow'} names no peer id`);
  return ids;
}
