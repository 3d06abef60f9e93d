// Who may use the endpoint, end to end: no listening beyond loopback without a token, 401 without
// the token, 403 for foreign origins and DNS-rebound host names (the pure policy: ws-access.test.ts).
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MeshError } from '@agentmesh/scheduler';
import { isLoopbackHost, startWsEndpoint } from '../src/ws-endpoint.js';
import { client, endpoint, get, httpUrl, raw, runCleanups, synced } from './ws-helpers.js';

afterEach(runCleanups);

describe('ws endpoint: access', () => {
  it('refuses to listen beyond loopback without a token, before listening', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      const err = await startWsEndpoint({ doc: new Y.Doc(), host }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MeshError);
      expect((err as MeshError).code).toBe('INVALID_ARGUMENT');
      expect((err as MeshError).message).toBe('a --ws-token is required when the websocket endpoint listens beyond loopback');
    }
    // `log` is the retired logger option of a plain-JS caller; `logger` must have log().
    for (const bad of [{ port: -1 }, { port: 1.5 }, { room: '' }, { room: '../x' }, { room: 'a b' }, { maxMessageBytes: 0 }, { token: '' }, { log: () => {} }, { logger: {} }]) {
      await expect(startWsEndpoint({ doc: new Y.Doc(), ...bad })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.9.8.7')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('0:0:0:0:0:0:0:1')).toBe(true);
    expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('::')).toBe(false);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    expect(isLoopbackHost('127.0.0.1.evil.com')).toBe(false);
  });

  it('with a token: no token or a wrong one gets 401, the right one syncs', async () => {
    const doc = new Y.Doc();
    doc.getMap('tasks').set('t', 1);
    const { ep, logs } = await endpoint({ doc, token: 's3cret', status: () => ({ peers: 1 }) });
    expect((await raw(ep.url)).status).toBe(401);
    expect((await raw(`${ep.url}?token=nope`)).status).toBe(401);
    expect((await raw(ep.url, { authorization: 'Bearer nope' })).status).toBe(401);
    expect(logs.some((l) => l.level === 'warn' && /token/.test(l.msg))).toBe(true);
    expect(ep.connections()).toBe(0);

    const bearer = await raw(ep.url, { authorization: 'Bearer s3cret' });
    expect(bearer.status).toBe(101);
    bearer.ws.close();

    const c = client(ep, { token: 's3cret' });
    await synced(c.provider);
    expect(c.doc.getMap('tasks').get('t')).toBe(1);

    // HTTP: /healthz stays open, everything else wants the token.
    expect((await get(httpUrl(ep, '/healthz'))).status).toBe(200);
    expect((await get(httpUrl(ep, '/status'))).status).toBe(401);
    expect((await get(httpUrl(ep, '/status?token=s3cret'))).body).toBe('{"peers":1}');
    expect((await get(httpUrl(ep, '/status'), { authorization: 'Bearer s3cret' })).status).toBe(200);
    expect((await get(httpUrl(ep, '/nothing'))).status).toBe(401);
  });

  it('without a token: foreign browser origins and DNS-rebound host names get 403', async () => {
    const { ep } = await endpoint({ doc: new Y.Doc(), status: () => ({}), allowedOrigins: ['http://dash.example'] });
    expect((await raw(ep.url, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await raw(ep.url, { origin: 'null' })).status).toBe(403);
    expect((await raw(ep.url, { host: `evil.example:${ep.port}` })).status).toBe(403);
    expect((await raw(ep.url, { origin: 'http://localhost:5173' })).status).toBe(101);
    expect((await raw(ep.url, { origin: 'http://dash.example' })).status).toBe(101);
    expect((await get(httpUrl(ep, '/status'), { origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(httpUrl(ep, '/status'), { host: 'evil.example' })).status).toBe(403);
    expect((await get(httpUrl(ep, '/status'))).status).toBe(200);
  });
});
