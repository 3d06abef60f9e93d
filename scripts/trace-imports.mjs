// Loads one ES module in this process and prints, as JSON on stdout, every module resolution it
// caused: [{ parent, url }] (parent is the importing module's URL, or null for the entry). Used by
// the tests that keep browser-safe entries free of libp2p, ws and node:* (e.g.
// packages/peer/test/entry-browser-safe.test.ts). Usage: node scripts/trace-imports.mjs <file>
// Also reports whether this Node has Promise.withResolvers natively and whether the entry installed
// it (the libp2p polyfill): { edges, nativeWithResolvers, polyfilled }.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

const entry = process.argv[2];
if (!entry) {
  process.stderr.write('usage: node scripts/trace-imports.mjs <module file>\n');
  process.exit(2);
}

// Module hooks run on their own thread: they post each resolution back over a port.
const hooks = `
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  port.postMessage({ parent: context.parentURL ?? null, url: r.url });
  return r;
}`;
const { port1, port2 } = new MessageChannel();
const edges = [];
port1.on('message', (m) => edges.push(m));
register('data:text/javascript,' + encodeURIComponent(hooks), { data: { port: port2 }, transferList: [port2] });

const hadWithResolvers = typeof Promise.withResolvers === 'function';
await import(pathToFileURL(entry).href);
// Let the last messages from the hooks thread arrive.
await new Promise((r) => setTimeout(r, 50));
port1.close();
const polyfilled = !hadWithResolvers && typeof Promise.withResolvers === 'function';
process.stdout.write(JSON.stringify({ edges, nativeWithResolvers: hadWithResolvers, polyfilled }) + '\n');
