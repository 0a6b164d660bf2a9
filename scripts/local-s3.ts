// `pnpm -s s3:local`: s3rver as a local S3-compatible store for running production mode on one machine,
// with the keys of S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY instead of s3rver's fixed ones (which
// production refuses). A stand-in only: s3rver checks the key id, not SigV4 signatures, and keeps objects
// as plain files. Serves until SIGTERM/SIGINT.
//   LOCAL_S3_PORT (default 4569), LOCAL_S3_DIR (default .data/s3-local), S3_BUCKET (default stowage)
import { startEmbeddedS3 } from '../src/dev/embedded-s3.ts';

const accessKeyId = process.env.S3_ACCESS_KEY_ID;
const secretAccessKey = process.env.S3_SECRET_ACCESS_KEY;
if (!accessKeyId || !secretAccessKey || accessKeyId === 'S3RVER') {
  console.error('set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY (not S3RVER) first');
  process.exit(1);
}
const s3 = await startEmbeddedS3({
  dir: process.env.LOCAL_S3_DIR ?? '.data/s3-local',
  port: Number(process.env.LOCAL_S3_PORT ?? 4569),
  buckets: [process.env.S3_BUCKET ?? 'stowage'],
  accessKeys: { accessKeyId, secretAccessKey },
});
console.error(`local S3 store listening on ${s3.endpoint}`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void s3.stop().then(() => process.exit(0)));
}
