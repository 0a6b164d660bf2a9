// The compose stack as CI runs it: compose.yml unchanged plus compose.ci.yml (local images), a project
// of its own, an env file and TLS material in a temp dir, the edge on a free loopback port.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/dev/free-port.ts';
import { docker, must, productionSecrets, ROOT, run, selfSignedCert, writeEnvFile } from './docker.ts';

export const IMAGE = 'stowage:ci';
export const PROJECT = `stowage-ci-${process.pid}`;

/** The worker joins the stack once its entry exists (issue 13); until then the smoke runs without it. */
export const WITH_WORKER = existsSync(join(ROOT, 'src/jobs/worker.ts'));

export type Stack = Awaited<ReturnType<typeof prepareStack>>;

export async function prepareStack(dir: string) {
  const tls = selfSignedCert(dir);
  chmodSync(tls.key, 0o644); // the edge runs as uid 101
  const backups = join(dir, 'backups');
  mkdirSync(backups);
  chownSync(backups, 1000, 1000); // backup-db and backup-objects both run as uid 1000
  const secrets = productionSecrets();
  const port = await freePort();
  const envFile = join(dir, 'stack.env');
  writeEnvFile(envFile, {
    ...secrets,
    STOWAGE_IMAGE: IMAGE,
    PUBLIC_URL: `https://localhost:${port}`,
    TLS_CERT_FILE: tls.cert,
    TLS_KEY_FILE: tls.key,
    EDGE_BIND: '127.0.0.1',
    EDGE_HTTPS_PORT: String(port),
    EDGE_HTTP_PORT: String(await freePort()),
    BACKUP_DIR: backups,
    BACKUP_KEEP: '3',
    // Subnet of this project's edge network, inside scripts/containers.sh's address pool.
    EDGE_SUBNET: '10.213.200.0/24',
    EDGE_ADDRESS: '10.213.200.10',
    SHUTDOWN_DELAY_MS: '0',
  });
  const args = ['-p', PROJECT, '-f', 'compose.yml', '-f', 'compose.ci.yml', '--env-file', envFile];
  return {
    args,
    url: `https://localhost:${port}`,
    ca: readFileSync(tls.cert, 'utf8'),
    backups,
    secrets,
    compose: (...rest: string[]) => must('docker', ['compose', ...args, ...rest], { timeoutMs: 300_000 }),
    composeRun: (...rest: string[]) => run('docker', ['compose', ...args, ...rest], { timeoutMs: 300_000 }),
    services: ['postgres', 's3', 's3-init', 'migrate', 'api', 'edge', ...(WITH_WORKER ? ['worker'] : [])],
  };
}

/** Containers of the project (all states), by service. */
export function projectContainers(): { id: string; service: string; state: string }[] {
  const out = docker(
    'ps',
    '-a',
    '--filter',
    `label=com.docker.compose.project=${PROJECT}`,
    '--format',
    '{{.ID}} {{.Label "com.docker.compose.service"}} {{.State}}',
  );
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, service, state] = line.split(' ');
      return { id: id!, service: service!, state: state! };
    });
}

export const inspect = (id: string) => JSON.parse(docker('inspect', id))[0];
