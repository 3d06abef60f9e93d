// The demo's scenario payloads: deterministic from the seed, valid for the real agents (run here
// through their exported pure functions), and varied enough to show something (forecasts through
// the day, machines that alarm, patients at high risk), plus the scenario request checks.
import { describe, expect, it } from 'vitest';
import { factoryAnomaly, news2, trafficForecast } from '@agentmesh/agents';
import { faultyTask, parseScenario, scenarioTask, SCENARIO_KINDS } from '../src/scenarios.js';

describe('scenario payloads', () => {
  it('are a pure function of (kind, seed, n)', () => {
    for (const kind of SCENARIO_KINDS) {
      expect(scenarioTask(kind, 7, 42)).toEqual(scenarioTask(kind, 7, 42));
      expect(scenarioTask(kind, 7, 42)).not.toEqual(scenarioTask(kind, 8, 42));
    }
  });

  it('traffic: valid for traffic.forecast, Holt-Winters over two days of hourly counts', () => {
    const models = new Set<string>();
    for (let n = 0; n < 40; n++) {
      const t = scenarioTask('traffic', 1, n);
      expect(t.type).toBe('traffic.forecast');
      const r = trafficForecast(t.payload as never);
      models.add(r.model);
      expect(r.forecast).toHaveLength(4);
      expect(r.signalPlan.greenSeconds).toBeGreaterThanOrEqual(10);
    }
    expect([...models]).toEqual(['holt-winters']);
  });

  it('factory: valid for factory.anomaly, with some machines alarming and most quiet', () => {
    const status: Record<string, number> = {};
    for (let n = 0; n < 300; n++) {
      const t = scenarioTask('factory', 1, n);
      const r = factoryAnomaly(t.payload as never);
      status[r.status] = (status[r.status] ?? 0) + 1;
    }
    expect(status.alarm ?? 0).toBeGreaterThan(20);
    expect(status.alarm ?? 0).toBeLessThan(120);
    expect(status.ok ?? 0).toBeGreaterThan(60);
  });

  it('clinic: valid NEWS2 observations, mostly low risk with some high', () => {
    const risk: Record<string, number> = {};
    for (let n = 0; n < 400; n++) {
      const t = scenarioTask('clinic', 1, n);
      const r = news2(t.payload as never);
      risk[r.risk] = (risk[r.risk] ?? 0) + 1;
    }
    expect(risk.low ?? 0).toBeGreaterThan(200);
    expect((risk.high ?? 0) + (risk.medium ?? 0)).toBeGreaterThan(10);
  });

  it('faulty tasks always fail, three attempts', () => {
    expect(faultyTask('traffic', 3)).toEqual({ type: 'fail', payload: { times: 1000, scenario: 'traffic', n: 3 }, maxAttempts: 3 });
  });

  it('requests are checked with clear errors', () => {
    expect(parseScenario({ kind: 'traffic' })).toEqual({ kind: 'traffic', rate: 20, seconds: 10, seed: 1, faulty: 0 });
    expect(parseScenario({ kind: 'nope' })).toMatch(/kind must be one of traffic, factory, clinic/);
    expect(parseScenario({ kind: 'clinic', rate: 0 })).toMatch(/rate/);
    expect(parseScenario({ kind: 'clinic', seconds: 1e9 })).toMatch(/seconds/);
    expect(parseScenario({ kind: 'clinic', faulty: 0.9 })).toMatch(/faulty/);
    expect(parseScenario([])).toMatch(/object/);
  });
});
