// CI stand-in for the S3 store (compose.ci.yml only): s3rver on :9000 with the credentials and bucket
// that the stack's env file names, instead of s3rver's built-in S3RVER key pair.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');

DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
DUMMY_ACCOUNT.createKeyPair(process.env.S3_ACCESS_KEY_ID, process.env.S3_SECRET_ACCESS_KEY);

const server = new S3rver({
  address: '0.0.0.0',
  port: 9000,
  directory: process.env.S3_DATA_DIR ?? '/data',
  silent: true,
  // Otherwise a Host that is not an IP (here: `s3`) is read as a virtual-hosted bucket name.
  vhostBuckets: false,
  configureBuckets: process.env.S3_BUCKET ? [{ name: process.env.S3_BUCKET }] : [],
});
await server.run();
process.stderr.write('s3 stand-in listening on :9000\n');
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
