// The `clinic.triage` agent and its pure scoring: the National Early Warning Score 2 (NEWS2,
// Royal College of Physicians, 2017) from one set of vital signs, with the RCP's risk bands and
// clinical responses. The bands below are the RCP chart's, transcribed one row per parameter.
import type { AgentContext, AgentDefinition } from './contract.js';
import { PayloadReader } from './validate.js';

export type Consciousness = 'A' | 'C' | 'V' | 'P' | 'U';
export type News2Risk = 'low' | 'low-medium' | 'medium' | 'high';

export interface News2Observations {
  /** Breaths per minute. */
  respRate: number;
  /** Oxygen saturation, %. */
  spo2: number;
  /** 1 (default), or 2 for patients with hypercapnic respiratory failure (target 88-92%). */
  spo2Scale?: 1 | 2;
  /** Supplemental oxygen (true) or room air (false). */
  onOxygen: boolean;
  /** Systolic blood pressure, mmHg. */
  systolic: number;
  /** Heart rate, beats per minute. */
  pulse: number;
  /** ACVPU: Alert, new Confusion, responds to Voice, to Pain, Unresponsive. */
  consciousness: Consciousness;
  /** Temperature, degrees Celsius. */
  temperature: number;
}

export interface News2Components {
  respRate: number;
  spo2: number;
  air: number;
  systolic: number;
  pulse: number;
  consciousness: number;
  temperature: number;
}

export interface News2Result {
  score: number;
  components: News2Components;
  risk: News2Risk;
  response: string;
}

/** Scores a whole-number value: the first band whose upper bound (inclusive) it does not exceed. */
function band(value: number, bands: ReadonlyArray<readonly [upTo: number, score: number]>): number {
  for (const [upTo, score] of bands) if (value <= upTo) return score;
  throw new Error('unreachable: the last band is open-ended');
}

// Respiration rate: <=8 -> 3, 9-11 -> 1, 12-20 -> 0, 21-24 -> 2, >=25 -> 3.
const RESP_RATE = [[8, 3], [11, 1], [20, 0], [24, 2], [Infinity, 3]] as const;
// SpO2 scale 1: <=91 -> 3, 92-93 -> 2, 94-95 -> 1, >=96 -> 0.
const SPO2_SCALE_1 = [[91, 3], [93, 2], [95, 1], [Infinity, 0]] as const;
// SpO2 scale 2: <=83 -> 3, 84-85 -> 2, 86-87 -> 1, 88-92 -> 0, and >=93 -> 0 on air;
// on oxygen 93-94 -> 1, 95-96 -> 2, >=97 -> 3.
const SPO2_SCALE_2_LOW = [[83, 3], [85, 2], [87, 1], [92, 0]] as const;
const SPO2_SCALE_2_HIGH_ON_OXYGEN = [[94, 1], [96, 2], [Infinity, 3]] as const;
// Systolic BP: <=90 -> 3, 91-100 -> 2, 101-110 -> 1, 111-219 -> 0, >=220 -> 3.
const SYSTOLIC = [[90, 3], [100, 2], [110, 1], [219, 0], [Infinity, 3]] as const;
// Pulse: <=40 -> 3, 41-50 -> 1, 51-90 -> 0, 91-110 -> 1, 111-130 -> 2, >=131 -> 3.
const PULSE = [[40, 3], [50, 1], [90, 0], [110, 1], [130, 2], [Infinity, 3]] as const;
// Temperature in tenths of a degree: <=35.0 -> 3, 35.1-36.0 -> 1, 36.1-38.0 -> 0, 38.1-39.0 -> 1, >=39.1 -> 2.
const TEMPERATURE_TENTHS = [[350, 3], [360, 1], [380, 0], [390, 1], [Infinity, 2]] as const;

/** The RCP's clinical response for each risk (NEWS2 chart 2, "NEWS thresholds and triggers"). */
export const NEWS2_RESPONSES = {
  zero: 'Minimum 12-hourly monitoring; continue routine NEWS2 monitoring.',
  low: 'Minimum 4-6-hourly monitoring; inform a registered nurse, who must assess the patient and decide whether increased frequency of monitoring and/or escalation of care is required.',
  'low-medium': 'Minimum 1-hourly monitoring; registered nurse to inform the medical team caring for the patient, who will review and decide whether escalation of care is necessary (a single parameter scores 3).',
  medium: 'Minimum 1-hourly monitoring; registered nurse to immediately inform the medical team; urgent assessment by a clinician or team with core competencies in the care of acutely ill patients; provide clinical care in an environment with monitoring facilities (urgent response threshold).',
  high: 'Continuous monitoring of vital signs; registered nurse to immediately inform the medical team (at least specialist registrar level); emergency assessment by a team with critical-care competencies, including advanced airway management; consider transfer to a level 2 or 3 clinical care facility (emergency response threshold).',
} as const;

/** Scores SpO2 on the given scale (scale 2 also needs whether the patient is on oxygen). */
export function news2Spo2Score(spo2: number, scale: 1 | 2, onOxygen: boolean): number {
  const s = Math.round(spo2);
  if (scale === 1) return band(s, SPO2_SCALE_1);
  if (s <= 92) return band(s, SPO2_SCALE_2_LOW);
  return onOxygen ? band(s, SPO2_SCALE_2_HIGH_ON_OXYGEN) : 0;
}

/** Checks observations; `agent` and `code` decide how a bad field is reported. */
export function parseNews2(
  obs: unknown,
  agent = 'clinic.triage',
  code: 'INVALID_TASK' | 'INVALID_ARGUMENT' = 'INVALID_TASK',
): Required<News2Observations> {
  const r = new PayloadReader(agent, obs, code, code === 'INVALID_TASK' ? 'payload' : 'observations');
  return {
    respRate: r.number('respRate', { min: 0, max: 100 }),
    spo2: r.number('spo2', { min: 0, max: 100 }),
    spo2Scale: r.fields.spo2Scale === undefined ? 1 : r.oneOf('spo2Scale', [1, 2] as const),
    onOxygen: r.boolean('onOxygen'),
    systolic: r.number('systolic', { min: 0, max: 350 }),
    pulse: r.number('pulse', { min: 0, max: 300 }),
    consciousness: r.oneOf('consciousness', ['A', 'C', 'V', 'P', 'U'] as const),
    temperature: r.number('temperature', { min: 25, max: 45 }),
  };
}

/**
 * The NEWS2 score. Respiration rate, SpO2, systolic BP and pulse are rounded to whole numbers and
 * temperature to 0.1 degC (the chart's resolution) before banding. Risk: >= 7 high, 5-6 medium,
 * otherwise 'low-medium' if any single parameter scores 3, else low.
 */
export function news2(obs: News2Observations): News2Result {
  const o = parseNews2(obs, 'news2', 'INVALID_ARGUMENT');
  const components: News2Components = {
    respRate: band(Math.round(o.respRate), RESP_RATE),
    spo2: news2Spo2Score(o.spo2, o.spo2Scale, o.onOxygen),
    air: o.onOxygen ? 2 : 0,
    systolic: band(Math.round(o.systolic), SYSTOLIC),
    pulse: band(Math.round(o.pulse), PULSE),
    consciousness: o.consciousness === 'A' ? 0 : 3,
    temperature: band(Math.round(o.temperature * 10 + 1e-9), TEMPERATURE_TENTHS),
  };
  const values = Object.values(components);
  const score = values.reduce((a, b) => a + b, 0);
  const risk: News2Risk = score >= 7 ? 'high' : score >= 5 ? 'medium' : values.includes(3) ? 'low-medium' : 'low';
  const response = risk === 'low' && score === 0 ? NEWS2_RESPONSES.zero : NEWS2_RESPONSES[risk];
  return { score, components, risk, response };
}

export interface ClinicTriageResult extends News2Result {
  patient: string;
}

/** Checks a clinic.triage payload; throws MeshError('INVALID_TASK') naming the bad field. */
export function parseClinicTriage(payload: unknown): Required<News2Observations> & { patient: string } {
  const patient = new PayloadReader('clinic.triage', payload).string('patient');
  return { patient, ...parseNews2(payload) };
}

export const clinicTriageAgent: AgentDefinition = {
  description: 'Computes the NEWS2 early warning score, risk band and clinical response for a patient.',
  run: (payload: unknown, ctx: AgentContext): ClinicTriageResult => {
    const input = parseClinicTriage(payload);
    const result = { patient: input.patient, ...news2(input) };
    ctx.data.put(`triage/${result.patient}`, { score: result.score, risk: result.risk, at: ctx.now() });
    ctx.progress(100, `NEWS2 ${result.score} (${result.risk})`);
    return result;
  },
};
