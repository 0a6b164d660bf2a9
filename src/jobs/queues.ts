import type { Queue } from 'pg-boss';
import type { Config } from '../config.ts';

// Every queue the worker serves. The migrate command creates them (so an API process can enqueue before
// any worker ever ran); each worker re-applies the options of its own config at start.
export const QUEUES = {
  sweepUploads: 'sweep-uploads',
  purge: 'purge',
  mail: 'mail',
  mailDead: 'mail-dead',
  export: 'export',
  exportDead: 'export-dead',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

const DAY_S = 86_400;

/** Queue definitions, dead-letter queues first (a queue can only name an existing one). */
export function queueDefinitions(config: Pick<Config, 'jobs' | 'exports'>): Queue[] {
  return [
    // Dead letters are kept two weeks for inspection and replay (runbook/worker.md).
    { name: QUEUES.mailDead, retentionSeconds: 14 * DAY_S, deleteAfterSeconds: 14 * DAY_S },
    { name: QUEUES.exportDead, retentionSeconds: 14 * DAY_S, deleteAfterSeconds: 14 * DAY_S },
    // Schedules: one job per tick; `singleton` also keeps a slow run from overlapping the next one.
    {
      name: QUEUES.sweepUploads,
      policy: 'singleton',
      retryLimit: 0,
      expireInSeconds: 600,
      deleteAfterSeconds: DAY_S,
    },
    {
      name: QUEUES.purge,
      policy: 'singleton',
      retryLimit: 0,
      expireInSeconds: 1800,
      deleteAfterSeconds: DAY_S,
    },
    {
      name: QUEUES.mail,
      retryLimit: config.jobs.mailRetryLimit,
      retryDelay: config.jobs.mailRetryDelayS,
      retryBackoff: true,
      retryDelayMax: 3600,
      deadLetter: QUEUES.mailDead,
      expireInSeconds: 120,
      // A reset mail carries a single-use token valid 30 minutes: no reason to keep it for long.
      deleteAfterSeconds: 3600,
    },
    {
      name: QUEUES.export,
      retryLimit: 3,
      retryDelay: config.exports.retryDelayS,
      deadLetter: QUEUES.exportDead,
      // A worker that dies without a word is noticed by its missing heartbeat, not after hours.
      heartbeatSeconds: 30,
      expireInSeconds: 12 * 3600,
      deleteAfterSeconds: 7 * DAY_S,
    },
  ];
}
