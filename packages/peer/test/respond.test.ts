// The one JSON answer helper: what goes over the wire, byte for byte, matches what each HTTP surface
// sent with its own copy before (the copies are kept here as the reference).
import * as http from 'node:http';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { respond, type ResponseHeaders } from '../src/http/respond.js';

type Send = (res: http.ServerResponse, status: number, body: unknown) => void;

// The ws endpoint's sendJson (HEAD: no body) and the demo server's send were the same headers.
const endpointBefore: Send = (res, status, body) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
};
// The CLI api's send: no charset, no content-length (a chunked answer).
const apiBefore: Send = (res, status, body) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
};
const API_HEADERS: ResponseHeaders = { 'content-type': 'application/json', 'content-length': null };

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function wire(send: Send, status: number, body: unknown, method = 'GET'): Promise<string> {
  const server = http.createServer((_req, res) => send(res, status, body));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const text = await new Promise<string>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(`${method} / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', reject);
  });
  return text.replace(/\r\nDate: [^\r]*/, '');
}

const bodies: Array<[number, unknown]> = [
  [200, { ok: true }],
  [200, { text: 'ünïcødé ✓', n: [1, 2, 3] }],
  [404, { error: 'no route GET /x' }],
  [200, null],
  [500, { error: 'boom' }],
];

describe('respond', () => {
  it('answers exactly as the endpoint and demo copies did, GET and HEAD', async () => {
    for (const [status, body] of bodies) {
      for (const method of ['GET', 'HEAD']) {
        const got = await wire((res, s, b) => respond(res, s, b), status, body, method);
        expect(got).toBe(await wire(endpointBefore, status, body, method));
      }
    }
    const one = await wire((res, s, b) => respond(res, s, b), 200, { ok: true });
    expect(one).toBe('HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ncache-control: no-store\r\ncontent-length: 11\r\nConnection: close\r\n\r\n{"ok":true}');
  });

  it('answers exactly as the CLI api copy did with its headers (chunked, no charset)', async () => {
    for (const [status, body] of bodies) {
      const got = await wire((res, s, b) => respond(res, s, b, API_HEADERS), status, body);
      expect(got).toBe(await wire(apiBefore, status, body));
      expect(got).toContain('Transfer-Encoding: chunked');
      expect(got).not.toContain('content-length');
    }
  });

  it('adds and overrides headers, keeping the defaults order', async () => {
    const got = await wire((res, s, b) => respond(res, s, b, { 'cache-control': 'no-cache', 'access-control-allow-origin': '*' }), 201, [1]);
    expect(got).toBe(
      'HTTP/1.1 201 Created\r\ncontent-type: application/json; charset=utf-8\r\ncache-control: no-cache\r\ncontent-length: 3\r\naccess-control-allow-origin: *\r\nConnection: close\r\n\r\n[1]',
    );
  });
});
