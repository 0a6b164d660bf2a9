import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import type { Config } from '../../config.ts';
import type { Tx } from '../../db/client.ts';
import type { JobSender } from '../../jobs/boss.ts';
import { QUEUES } from '../../jobs/queues.ts';
import type { Logger } from '../../platform/logger.ts';

export type Mail = { to: string; subject: string; text: string };
export type Mailer = { send(mail: Mail): Promise<void>; outbox?: string };

/**
 * SMTP in production; in dev and tests each mail is a JSON file under DATA_DIR/outbox/. The log line
 * names the file, never the body: bodies carry single-use secrets.
 */
export function createMailer(config: Config, logger: Logger): Mailer {
  const from = config.mail.from;
  if (config.mail.smtpUrl) {
    const transport = createTransport(config.mail.smtpUrl);
    return {
      async send(mail) {
        await transport.sendMail({ from, ...mail });
        logger.info({ subject: mail.subject }, 'mail sent');
      },
    };
  }
  const outbox = join(config.dataDir, 'outbox');
  return {
    outbox,
    async send(mail) {
      await mkdir(outbox, { recursive: true, mode: 0o700 });
      const file = join(outbox, `${new Date().toISOString().replaceAll(':', '-')}-${randomUUID()}.json`);
      await writeFile(file, JSON.stringify({ from, ...mail }, null, 2), { mode: 0o600 });
      logger.info({ file, subject: mail.subject }, 'mail written to the outbox');
    },
  };
}

/** Mail the API asks for: a job in the caller's transaction, sent by the worker with retries. */
export type MailOutbox = { enqueue(tx: Tx, mail: Mail): Promise<void> };

export const createMailOutbox = (jobs: JobSender): MailOutbox => ({
  async enqueue(tx, mail) {
    await jobs.send(tx, QUEUES.mail, mail);
  },
});
