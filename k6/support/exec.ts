// The functions the scenarios name in `exec`; every entry file re-exports them (k6 looks them up among
// the entry module's exports).
import { limitsIteration } from './limits-flow.ts';
import { sessionIteration } from './session-flow.ts';
import type { SetupData } from './setup.ts';
import { smokeIteration } from './smoke-flow.ts';
import { soakIteration } from './soak-flow.ts';
import { stressIteration } from './stress-flow.ts';

export const smoke = (data: SetupData) => smokeIteration(data);
export const load = (data: SetupData) => sessionIteration(data);
export const spike = (data: SetupData) => sessionIteration(data, { shedding: true });
export const recovery = (data: SetupData) => sessionIteration(data);
export const soak = (data: SetupData) => soakIteration(data);
export const stress = (data: SetupData) => stressIteration(data);
export const limits = (data: SetupData) => limitsIteration(data);
