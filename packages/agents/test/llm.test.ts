// The llm agent against a tiny local imitation of an OpenAI-compatible chat completions
// endpoint on 127.0.0.1 (no external network): request shape, result, errors and abort.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isMeshError } from '@agentmesh/scheduler';
import { agentDefinition } from '../src/contract.js';
import { builtinAgents, chatCompletion } from '../src/index.js';
import { fakeContext } from './context.js';

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: unknown;
}

let server: Server;
let base: string;
let seen: Seen[] = [];
let reply: (req: Seen, res: ServerResponse) => void;

const ok = (req: Seen, res: ServerResponse) => {
  const body = req.body as { model: string; messages: Array<{ content: string }> };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: `${body.model}-served`,
      choices: [{ index: 0, message: { role: 'assistant', content: `echo: ${body.messages.at(-1)?.content}` }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 },
    }),
  );
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const s: Seen = { method: req.method, url: req.url, headers: req.headers, body: text ? JSON.parse(text) : undefined };
      seen.push(s);
      reply(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  reply = ok;
});

function llm(config: { url?: string; model?: string; apiKey?: string } = {}) {
  const reg = builtinAgents({ llm: { url: config.url ?? base, model: config.model ?? 'tiny-model', ...(config.apiKey ? { apiKey: config.apiKey } : {}) } });
  return agentDefinition(reg.llm!);
}

describe('llm agent', () => {
  it('posts a chat completion and returns text, model and usage', async () => {
    const { ctx, progress } = fakeContext({ type: 'llm' });
    const result = await llm({ apiKey: 'sk-test' }).run({ prompt: 'hello', system: 'be brief', maxTokens: 32 }, ctx);
    expect(result).toEqual({ text: 'echo: hello', model: 'tiny-model-served', usage: { promptTokens: 11, completionTokens: 5, totalTokens: 16 } });
    expect(seen).toHaveLength(1);
    const req = seen[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/chat/completions');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers.authorization).toBe('Bearer sk-test');
    expect(req.body).toEqual({
      model: 'tiny-model',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello' },
      ],
      max_tokens: 32,
    });
    expect(progress.at(-1)?.pct).toBe(100);
  });

  it('sends only the user message and no auth header when not configured, and accepts a trailing slash', async () => {
    await llm({ url: `${base}/` }).run({ prompt: 'hi' }, fakeContext().ctx);
    const req = seen[0]!;
    expect(req.url).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body).toEqual({ model: 'tiny-model', messages: [{ role: 'user', content: 'hi' }] });
  });

  it('reports usage as null and the configured model when the server omits them', async () => {
    reply = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'ok' } }] }));
    };
    expect(await llm().run({ prompt: 'x' }, fakeContext().ctx)).toEqual({ text: 'ok', model: 'tiny-model', usage: null });
  });

  it('surfaces a non-2xx answer as a clear error with the server message', async () => {
    reply = (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'model is overloaded', type: 'server_error' } }));
    };
    await expect(llm({ apiKey: 'sk-secret' }).run({ prompt: 'x' }, fakeContext().ctx)).rejects.toThrow(
      `llm: ${base}/chat/completions answered HTTP 500 Internal Server Error: model is overloaded`,
    );
    reply = (_req, res) => {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('invalid api key');
    };
    const err = (await Promise.resolve(llm({ apiKey: 'sk-secret' }).run({ prompt: 'x' }, fakeContext().ctx)).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(`llm: ${base}/chat/completions answered HTTP 401 Unauthorized: invalid api key`);
    expect(err.message).not.toContain('sk-secret');
  });

  it('rejects a 200 answer without a completion', async () => {
    reply = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [] }));
    };
    await expect(llm().run({ prompt: 'x' }, fakeContext().ctx)).rejects.toThrow('answered without choices[0].message.content');
    reply = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>proxy login</html>');
    };
    await expect(llm().run({ prompt: 'x' }, fakeContext().ctx)).rejects.toThrow('with a body that is not JSON');
  });

  it('aborts a pending request when the signal aborts', async () => {
    reply = () => {}; // never answers
    const { ctx, controller } = fakeContext();
    const reason = new Error('cancelled');
    const run = llm().run({ prompt: 'slow' }, ctx);
    setTimeout(() => controller.abort(reason), 50);
    await expect(run).rejects.toBe(reason);
  });

  it('reports an unreachable endpoint', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(chatCompletion({ url: `http://127.0.0.1:${port}/v1`, model: 'm' }, { prompt: 'x' })).rejects.toThrow(
      `llm: request to http://127.0.0.1:${port}/v1/chat/completions failed`,
    );
  });

  it.each([
    [undefined, 'llm: payload must be an object (got missing)'],
    [{}, 'llm: payload.prompt must be a string of 1..1000000 characters (got missing)'],
    [{ prompt: '' }, 'llm: payload.prompt must be a string of 1..1000000 characters (got "")'],
    [{ prompt: 'x', system: 3 }, 'llm: payload.system must be a string of 1..1000000 characters (got 3)'],
    [{ prompt: 'x', maxTokens: 0 }, 'llm: payload.maxTokens must be an integer in 1..1000000 (got 0)'],
    [{ prompt: 'x', maxTokens: 1.5 }, 'llm: payload.maxTokens must be an integer in 1..1000000 (got 1.5)'],
  ])('rejects %j without calling the server', async (payload, message) => {
    const err = await Promise.resolve(llm().run(payload, fakeContext().ctx)).catch((e: unknown) => e);
    expect(isMeshError(err, 'INVALID_TASK')).toBe(true);
    expect((err as Error).message).toBe(message);
    expect(seen).toHaveLength(0);
  });
});
