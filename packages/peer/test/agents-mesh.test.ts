// The built-in agents inside real peers on the in-memory hub: results land on every replica, the
// agents' shared-data writes appear under the task type's namespace, and `fail` is retried.
import { describe, expect, it } from 'vitest';
import { memoryMesh, until } from './helpers.js';
import { builtinAgents, news2, trafficForecast } from '@agentmesh/agents';

const mesh = (n: number) => memoryMesh(n, builtinAgents());

describe('built-in agents in a mesh', () => {
  it('run on peers, replicate results and shared data, and retry fail', async () => {
    const peers = mesh(2);
    await Promise.all(peers.map((p) => p.start()));
    const counts = [120, 135, 128, 150, 160, 149, 171, 180];
    const vitals = { patient: 'bed-3', respRate: 22, spo2: 95, onOxygen: false, systolic: 118, pulse: 96, consciousness: 'A', temperature: 37.2 };
    const specs = await peers[0]!.submit([
      { type: 'traffic.forecast', payload: { junction: 'J1', counts } },
      { type: 'clinic.triage', payload: vitals },
      { type: 'fail', payload: { times: 2 }, maxAttempts: 3 },
      { type: 'traffic.forecast', payload: { junction: 'J2', counts: [1, 2] }, maxAttempts: 1 },
    ]);
    const [traffic, triage, fail, bad] = specs.map((s) => s.id);
    await until(() => peers.every((p) => [traffic, triage, fail].every((id) => p.view(id!)?.state === 'done') && p.view(bad!)?.state === 'dead'));
    for (const p of peers) {
      expect(p.view(traffic!)!.result!.result).toEqual(trafficForecast({ junction: 'J1', counts }));
      expect(p.view(triage!)!.result!.result).toEqual({ patient: 'bed-3', ...news2(vitals as Parameters<typeof news2>[0]) });
      expect(p.view(fail!)!.result!.result).toEqual({ attempts: 3 });
    }
    await until(() => peers.every((p) => p.document.board.getData('traffic.forecast', 'forecast/J1') !== undefined && p.document.board.getData('clinic.triage', 'triage/bed-3') !== undefined));
    expect(peers[1]!.document.board.getData('traffic.forecast', 'forecast/J1')!.value).toMatchObject({ forecast: trafficForecast({ junction: 'J1', counts }).forecast });
    expect(peers[1]!.document.board.getData('clinic.triage', 'triage/bed-3')!.value).toMatchObject({ score: 4, risk: 'low' });
    const v = peers[0]!.view(fail!)!;
    expect(v.errors.map((e) => e.error)).toEqual([
      'fail: deliberate failure on attempt 1 (this task fails its first 2)',
      'fail: deliberate failure on attempt 2 (this task fails its first 2)',
    ]);
    expect(peers[1]!.view(bad!)!.errors.map((e) => e.error)).toEqual([
      'traffic.forecast: payload.counts must be an array of at least 4 non-negative numbers (got 2)',
    ]);
    await Promise.all(peers.map((p) => p.stop()));
  });
});
