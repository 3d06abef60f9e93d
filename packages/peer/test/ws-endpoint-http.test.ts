// The endpoint's plain HTTP routes: /healthz, /status, extra routes, 404/405/426/500, and websocket
// upgrades to other paths.
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { endpoint, get, httpUrl, raw, runCleanups } from './ws-helpers.js';

afterEach(runCleanups);

describe('ws endpoint: http', () => {
  it('serves /healthz, /status, extra routes, and 404s the rest', async () => {
    let n = 0;
    const { ep, logs } = await endpoint({
      doc: new Y.Doc(),
      status: () => ({ calls: ++n, ok: 'yes' }),
      httpHandler: (req, res) => {
        if (req.url === '/dashboard/') {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<h1>dash</h1>');
          return true;
        }
        if (req.url === '/boom') throw new Error('handler blew up');
        if (req.url === '/late') {
          return new Promise<boolean>((resolve) =>
            setTimeout(() => {
              res.end('late');
              resolve(true);
            }, 5),
          );
        }
        return false;
      },
    });
    const h = await get(httpUrl(ep, '/healthz'));
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body)).toEqual({ ok: true });
    const s = await get(httpUrl(ep, '/status'));
    expect(s.status).toBe(200);
    expect(s.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(s.body)).toEqual({ calls: 1, ok: 'yes' });
    expect((await get(httpUrl(ep, '/status'), {}, 'POST')).status).toBe(405);
    expect((await get(httpUrl(ep, '/dashboard/'))).body).toBe('<h1>dash</h1>');
    expect((await get(httpUrl(ep, '/late'))).body).toBe('late');
    expect((await get(httpUrl(ep, '/boom'))).status).toBe(500);
    expect(logs.some((l) => l.level === 'error' && l.msg === 'http handler failed')).toBe(true);
    expect((await get(httpUrl(ep, '/nope'))).status).toBe(404);
    expect((await get(httpUrl(ep, '/agentmesh'))).status).toBe(426);
    // Websocket upgrades to another path are refused.
    expect((await raw(`ws://127.0.0.1:${ep.port}/other-room`)).status).toBe(404);
    expect((await raw(`ws://127.0.0.1:${ep.port}/`)).status).toBe(404);
    expect((await raw(`ws://127.0.0.1:${ep.port}/agentmesh/x`)).status).toBe(404);
    // Still alive.
    expect((await get(httpUrl(ep, '/healthz'))).status).toBe(200);
  });

  it('without a status function /status is 404', async () => {
    const { ep } = await endpoint({ doc: new Y.Doc() });
    expect((await get(httpUrl(ep, '/status'))).status).toBe(404);
  });

  it('a status function that throws gives 500', async () => {
    const { ep } = await endpoint({
      doc: new Y.Doc(),
      status: () => {
        throw new Error('nope');
      },
    });
    expect((await get(httpUrl(ep, '/status'))).status).toBe(500);
    expect((await get(httpUrl(ep, '/healthz'))).status).toBe(200);
  });
});
