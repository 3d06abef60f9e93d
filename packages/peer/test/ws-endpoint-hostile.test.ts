// What a websocket client writes: garbage, malformed, oversized, text and unknown messages never
// reach the peer document and never throw; the classifier on its own.
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { WebSocket } from 'ws';
import { inspectMessage } from '../src/ws-endpoint.js';
import { client, closed, endpoint, raw, runCleanups, syncMessage, synced, until } from './ws-helpers.js';

afterEach(runCleanups);

describe('ws endpoint: hostile input', () => {
  it('garbage, bad updates, oversized and unknown messages are dropped without touching the doc', async () => {
    const consoleError = vi.spyOn(console, 'error');
    try {
      const doc = new Y.Doc();
      doc.getMap('tasks').set('t1', 'keep');
      const before = Y.encodeStateAsUpdate(doc);
      const { ep, logs, invalid } = await endpoint({ doc, maxMessageBytes: 64 * 1024 });

      // 1. garbage bytes
      let s = await raw(ep.url);
      s.ws.send(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
      expect(await closed(s.ws)).toBe(1008);
      expect(invalid.length).toBe(1);

      // 2. a sync update made of random bytes, and a step 2 made of random bytes
      s = await raw(ep.url);
      s.ws.send(syncMessage(2, Uint8Array.of(0, 2, 4, 0xde, 0xad, 0xbe, 0xef, 9, 9)));
      expect(await closed(s.ws)).toBe(1008);
      expect(invalid.at(-1)).toMatch(/malformed update/);
      s = await raw(ep.url);
      s.ws.send(syncMessage(1, Uint8Array.of(7, 7, 7, 7, 7, 7, 7, 7)));
      expect(await closed(s.ws)).toBe(1008);
      // a bad state vector in step 1 and an unknown sync sub-type
      s = await raw(ep.url);
      s.ws.send(syncMessage(0, Uint8Array.of(0xff)));
      expect(await closed(s.ws)).toBe(1008);
      s = await raw(ep.url);
      s.ws.send(syncMessage(9, new Uint8Array(0)));
      expect(await closed(s.ws)).toBe(1008);

      // 3. oversized
      s = await raw(ep.url);
      s.ws.send(syncMessage(2, new Uint8Array(100 * 1024)));
      expect(await closed(s.ws)).toBe(1009);
      expect(invalid.at(-1)).toMatch(/limit/);

      // 4. text frame
      s = await raw(ep.url);
      s.ws.send('hello');
      expect(await closed(s.ws)).toBe(1003);

      // 5. bad awareness payload
      s = await raw(ep.url);
      s.ws.send(Uint8Array.of(1, 3, 1, 5, 0));
      expect(await closed(s.ws)).toBe(1008);

      const invalidCount = invalid.length;
      expect(invalidCount).toBe(8);

      // 6. unknown message type: dropped and logged, the connection stays usable
      s = await raw(ep.url);
      const got: Uint8Array[] = [];
      s.ws.on('message', (d: Buffer) => got.push(new Uint8Array(d)));
      s.ws.send(Uint8Array.of(7, 1, 2, 3));
      s.ws.send(Uint8Array.of(3)); // query-awareness is not served either
      await until(() => logs.filter((l) => l.msg === 'ws message dropped').length === 2, 5000, 'drop logs');
      expect(invalid.length).toBe(invalidCount);
      const n = got.length;
      s.ws.send(syncMessage(0, Y.encodeStateVector(new Y.Doc())));
      await until(() => got.length > n, 5000, 'step 2 reply');
      expect(s.ws.readyState).toBe(WebSocket.OPEN);

      // 7. random fuzz, one message per socket
      for (let i = 0; i < 25; i++) {
        const f = await raw(ep.url);
        const bytes = Uint8Array.from({ length: 1 + ((i * 37) % 300) }, (_, j) => (i * 131 + j * 17 + ((j * j) % 251)) & 0xff);
        bytes[0] = i % 3 === 0 ? 0 : bytes[0]!;
        f.ws.send(bytes);
        f.ws.close();
      }

      expect(logs.some((l) => l.level === 'warn' && l.msg === 'ws message rejected')).toBe(true);
      expect(Y.encodeStateAsUpdate(doc)).toEqual(before);
      expect(doc.getMap('tasks').toJSON()).toEqual({ t1: 'keep' });

      // A well-behaved client still works.
      const c = client(ep);
      await synced(c.provider);
      expect(c.doc.getMap('tasks').get('t1')).toBe('keep');
      doc.getMap('tasks').set('t2', 'ok');
      await until(() => c.doc.getMap('tasks').get('t2') === 'ok', 5000, 'a good client reads live');
      expect(c.provider.wsconnected).toBe(true);
      // The library never had to catch anything.
      expect(consoleError).not.toHaveBeenCalled();
    } finally {
      consoleError.mockRestore();
    }
  });

  it('inspectMessage classifies messages', () => {
    const good = new Y.Doc();
    good.getMap('m').set('a', 1);
    expect(inspectMessage(syncMessage(2, Y.encodeStateAsUpdate(good)))).toMatchObject({ kind: 'ok' });
    expect(inspectMessage(syncMessage(1, Y.encodeStateAsUpdate(good)))).toMatchObject({ kind: 'ok' });
    expect(inspectMessage(syncMessage(0, Y.encodeStateVector(good)))).toEqual({ kind: 'ok' });
    expect(inspectMessage(new Uint8Array(0)).kind).toBe('invalid');
    expect(inspectMessage(Uint8Array.of(2, 0)).kind).toBe('ignore');
    const withTrailing = new Uint8Array([...syncMessage(0, Y.encodeStateVector(good)), 0]);
    expect(inspectMessage(withTrailing).kind).toBe('invalid');
  });
});
