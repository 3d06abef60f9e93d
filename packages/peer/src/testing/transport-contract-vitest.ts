// Registers the Transport conformance suite as vitest tests: one test per check, each on a fresh
// fixture. A check listed in `knownGaps` is registered with it.fails, so it reports when the gap
// is closed. Only test files import this (through @agentmesh/peer/testing); the runtime never does.

import { describe, expect, it } from 'vitest';
import { TRANSPORT_CHECKS } from './transport-checks.js';
import { runContractCheck, type TransportContractOptions, type TransportSetup } from './transport-contract.js';

export function runTransportContract(name: string, setup: TransportSetup, opts: TransportContractOptions): void {
  const unknown = Object.keys(opts.knownGaps ?? {}).filter((id) => !TRANSPORT_CHECKS.some((c) => c.id === id));
  if (unknown.length > 0) throw new Error(`knownGaps names no transport check: ${unknown.join(', ')}`);
  describe(`Transport contract: ${name}`, () => {
    for (const check of TRANSPORT_CHECKS) {
      const gap = opts.knownGaps?.[check.id];
      const test = gap ? it.fails : it;
      test(`${check.id}: ${check.title}${gap ? ` [known gap: ${gap}]` : ''}`, async (ctx) => {
        const r = await runContractCheck(check, setup, opts);
        if (r.status === 'skipped') ctx.skip(r.note);
        expect(r.failures).toEqual([]);
      });
    }
  });
}
