// The websocket endpoint's access policy on its own: decisions from a URL and headers, no sockets.
import { describe, expect, it } from 'vitest';
import { accessRules, decideAccess, hostOfHeader, isLoopbackHost, type AccessHeaders, type AccessRules } from '../src/ws/access.js';

const url = (path: string) => new URL(path, 'http://localhost');
const decide = (rules: AccessRules, path: string, headers: AccessHeaders = {}) => decideAccess(rules, url(path), headers);

describe('ws access policy', () => {
  it('with a token: only the token counts (query or Bearer), origins and hosts are not checked', () => {
    const rules = accessRules({ token: 's3cret', host: '0.0.0.0', allowedOrigins: ['http://dash.example'] });
    expect(decide(rules, '/agentmesh')).toEqual({ kind: 'unauthorized' });
    expect(decide(rules, '/agentmesh?token=nope')).toEqual({ kind: 'unauthorized' });
    expect(decide(rules, '/agentmesh?token=')).toEqual({ kind: 'unauthorized' });
    expect(decide(rules, '/agentmesh', { authorization: 'Bearer nope' })).toEqual({ kind: 'unauthorized' });
    expect(decide(rules, '/agentmesh', { authorization: 's3cret' })).toEqual({ kind: 'unauthorized' });
    expect(decide(rules, '/agentmesh', { authorization: 'Basic s3cret' })).toEqual({ kind: 'unauthorized' });
    expect(decide(rules, '/agentmesh?token=s3cret')).toEqual({ kind: 'allow' });
    expect(decide(rules, '/agentmesh', { authorization: 'Bearer s3cret' })).toEqual({ kind: 'allow' });
    expect(decide(rules, '/agentmesh', { authorization: '  bearer   s3cret  ' })).toEqual({ kind: 'allow' });
    // Either place may hold it: a wrong query does not spoil a right header.
    expect(decide(rules, '/status?token=nope', { authorization: 'Bearer s3cret' })).toEqual({ kind: 'allow' });
    // The token is the gate: a foreign page or host name with the token passes.
    expect(decide(rules, '/agentmesh?token=s3cret', { origin: 'http://evil.example', host: 'evil.example:80' })).toEqual({ kind: 'allow' });
    // Without the token, a foreign origin is still only unauthorized (401 before 403).
    expect(decide(rules, '/agentmesh', { origin: 'http://evil.example' })).toEqual({ kind: 'unauthorized' });
  });

  it('without a token: loopback hosts and origins pass, DNS-rebound hosts and foreign origins are forbidden', () => {
    const rules = accessRules({ host: '127.0.0.1', allowedOrigins: ['http://dash.example', 'null'] });
    expect(decide(rules, '/agentmesh')).toEqual({ kind: 'allow' });
    expect(decide(rules, '/agentmesh', { host: '' })).toEqual({ kind: 'allow' });
    for (const host of ['127.0.0.1:8080', 'localhost:1', 'localhost', '[::1]:9', '127.3.2.1']) {
      expect(decide(rules, '/agentmesh', { host })).toEqual({ kind: 'allow' });
    }
    expect(decide(rules, '/agentmesh', { host: 'evil.example:80' })).toEqual({ kind: 'forbidden', reason: 'host "evil.example:80" is not loopback' });
    expect(decide(rules, '/agentmesh', { host: '127.0.0.1.evil.example' }).kind).toBe('forbidden');
    for (const origin of ['http://localhost:5173', 'https://127.0.0.1', 'http://[::1]:3000', 'http://dash.example', 'null']) {
      expect(decide(rules, '/agentmesh', { origin })).toEqual({ kind: 'allow' });
    }
    expect(decide(rules, '/agentmesh', { origin: 'http://evil.example' })).toEqual({ kind: 'forbidden', reason: 'origin "http://evil.example" is not allowed' });
    // Listed origins match exactly; loopback needs http(s); a malformed origin is foreign.
    for (const origin of ['http://dash.example:8080', 'https://dash.example', 'ftp://localhost', 'file://', 'not a url', '']) {
      expect(decide(rules, '/agentmesh', { origin }).kind).toBe('forbidden');
    }
    // The Host check comes first.
    expect(decide(rules, '/agentmesh', { host: 'evil.example', origin: 'http://evil.example' })).toEqual({ kind: 'forbidden', reason: 'host "evil.example" is not loopback' });
    // A token given by a client means nothing when none is set.
    expect(decide(rules, '/agentmesh?token=x', { authorization: 'Bearer y' })).toEqual({ kind: 'allow' });
  });

  it('without a token, "null" is foreign unless listed, and the bound host name is not a rebinding', () => {
    expect(decide(accessRules({ host: '127.0.0.1' }), '/', { origin: 'null' }).kind).toBe('forbidden');
    const named = accessRules({ host: 'localhost.' });
    expect(decide(named, '/', { host: 'localhost.:1234' })).toEqual({ kind: 'allow' });
    const v6 = accessRules({ host: '::1' });
    expect(decide(v6, '/', { host: '[::1]:1234' })).toEqual({ kind: 'allow' });
  });

  it('reads host names out of Host headers', () => {
    expect(hostOfHeader('example.com')).toBe('example.com');
    expect(hostOfHeader('example.com:80')).toBe('example.com');
    expect(hostOfHeader('[::1]:80')).toBe('::1');
    expect(hostOfHeader('[::1]')).toBe('::1');
    expect(hostOfHeader('[::1')).toBe('[::1');
  });

  it('knows loopback hosts', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost(' LOCALHOST ')).toBe(true);
    expect(isLoopbackHost('localhost.')).toBe(true);
    expect(isLoopbackHost('::ffff:7f00:1')).toBe(true);
    expect(isLoopbackHost('::ffff:128.0.0.1')).toBe(false);
    expect(isLoopbackHost('::2')).toBe(false);
    expect(isLoopbackHost('localhost.evil.com')).toBe(false);
    expect(isLoopbackHost('')).toBe(false);
  });
});
