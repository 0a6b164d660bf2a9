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

const RELAY_CHECK_TIMEOUT_MS = 5000;

/**
 * Start-up check of the SMTP relay (connect, greeting, auth): a dead relay is logged as an error at
 * once instead of when the first reset mail fails. It does not fail /readyz: readiness gates all traffic
 * and mail only serves password resets, so one broken relay must not take the API out of rotation.
 */
export async function checkMailRelay(config: Config, logger: Logger): Promise<boolean> {
  if (!config.mail.smtpUrl) return true;
  const transport = createTransport({
    url: config.mail.smtpUrl,
    connectionTimeout: RELAY_CHECK_TIMEOUT_MS,
    greetingTimeout: RELAY_CHECK_TIMEOUT_MS,
    socketTimeout: RELAY_CHECK_TIMEOUT_MS,
  });
  try {
    await transport.verify();
    logger.info('SMTP relay answered');
    return true;
  } catch (error) {
    // The message names host and port, which the log may hold; SMTP_URL's password never reaches it.
    logger.error(
      { err: { message: (error as Error).message, code: (error as { code?: string }).code } },
      'SMTP relay unreachable at start-up: password-reset mail will fail until it answers (check SMTP_URL)',
    );
    return false;
  } finally {
    transport.close();
  }
}

/** Mail the API asks for: a job in the caller's transaction, sent by the worker with retries. */
export type MailOutbox = { enqueue(tx: Tx, mail: Mail): Promise<void> };

export const createMailOutbox = (jobs: JobSender): MailOutbox => ({
  async enqueue(tx, mail) {
    await jobs.send(tx, QUEUES.mail, mail);
  },
});
