// `pnpm -s keys:generate [EdDSA|ES256]`: prints a new private JWK (with `kid` and `alg`) on one line, the
// shape JWT_SIGNING_KEY expects. Keep the output secret (it holds `d`); rotate per runbook/RUNBOOK.md.
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';

const alg = process.argv[2] ?? 'EdDSA';
if (alg !== 'EdDSA' && alg !== 'ES256') {
  console.error('usage: node scripts/signing-key.ts [EdDSA|ES256]');
  process.exit(1);
}
const { privateKey } =
  alg === 'EdDSA'
    ? await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
    : await generateKeyPair('ES256', { extractable: true });
const kid = `${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
process.stdout.write(`${JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg })}\n`);
