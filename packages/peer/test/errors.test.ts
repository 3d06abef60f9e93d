// errorText (a run's error outcome) and errorDetail (log fields) for every kind of thrown value.
import { describe, expect, it } from 'vitest';
import { MeshError } from '@agentmesh/scheduler';
import { errorDetail, errorText } from '../src/errors.js';

describe('errorText', () => {
  it('gives an Error its message, or its name when the message is empty', () => {
    expect(errorText(new Error('boom'))).toBe('boom');
    expect(errorText(new TypeError(''))).toBe('TypeError');
    expect(errorText(new MeshError('CLOSED', 'transport closed'))).toBe('transport closed');
    expect(errorText(new AggregateError([new Error('a')], 'all failed'))).toBe('all failed');
  });

  it('keeps strings, serialises other values, and survives what cannot be serialised', () => {
    expect(errorText('plain')).toBe('plain');
    expect(errorText({ code: 7 })).toBe('{"code":7}');
    expect(errorText(42)).toBe('42');
    expect(errorText(null)).toBe('null');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(errorText(cyclic)).toBe('[object Object]');
    expect(errorText(10n)).toBe('10');
    // As it always was: JSON has no text for undefined.
    expect(errorText(undefined)).toBeUndefined();
  });
});

describe('errorDetail', () => {
  it('names the error class and flattens AggregateErrors', () => {
    expect(errorDetail(new RangeError('too big'))).toBe('RangeError: too big');
    expect(errorDetail(new AggregateError([new Error('a'), new TypeError('b')], 'all failed'))).toBe('Error: a; TypeError: b');
    expect(errorDetail(new AggregateError([], 'nothing to try'))).toBe('nothing to try');
    expect(errorDetail(new AggregateError([new AggregateError([new Error('deep')])]))).toBe('Error: deep');
  });

  it('stringifies anything else', () => {
    expect(errorDetail('plain')).toBe('plain');
    expect(errorDetail({ code: 7 })).toBe('[object Object]');
    expect(errorDetail(undefined)).toBe('undefined');
  });
});
