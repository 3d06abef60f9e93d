// What the network-namespace tests print when they cannot run here: a loud banner on stderr (and
// the reason in the skipped suite's name), never a silent skip.

import { iptablesUnavailable, namespacesUnavailable } from './lab.js';

function banner(lines: string[]): void {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n${lines.map((l) => `!! ${l}`).join('\n')}\n${bar}\n\n`);
}

/** Why this file's namespace tests are skipped (printed loudly), or undefined when they run. */
export function skipNamespaces(file: string): string | undefined {
  const why = namespacesUnavailable();
  if (why) banner([`${file}: real-network fault tests SKIPPED: ${why}.`, 'They need Linux, root and iproute2 (CI runs them as root).']);
  return why;
}

/** Why the iptables scenarios of this file are skipped (printed loudly), or undefined. */
export function skipIptables(file: string, namespacesMissing: string | undefined): string | undefined {
  if (namespacesMissing) return namespacesMissing;
  const why = iptablesUnavailable();
  if (why) banner([`${file}: the iptables scenarios (one-way drops, loss, proxy) are SKIPPED: ${why}.`]);
  return why;
}
