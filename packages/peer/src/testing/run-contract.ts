// Runs the whole Transport conformance suite programmatically and returns one result per check,
// so a test can assert which checks a (deliberately broken) transport fails.

import { TRANSPORT_CHECKS } from './transport-checks.js';
import { runContractCheck, type ContractResult, type TransportContractOptions, type TransportSetup } from './transport-contract.js';

/** Runs every check (or those named in `only`) one after the other, each on a fresh fixture. */
export async function checkTransportContract(setup: TransportSetup, opts: TransportContractOptions, only?: readonly string[]): Promise<ContractResult[]> {
  const unknown = (only ?? []).filter((id) => !TRANSPORT_CHECKS.some((c) => c.id === id));
  if (unknown.length > 0) throw new Error(`no transport check named ${unknown.join(', ')}`);
  const results: ContractResult[] = [];
  for (const check of TRANSPORT_CHECKS) {
    if (only && !only.includes(check.id)) continue;
    results.push(await runContractCheck(check, setup, opts));
  }
  return results;
}
