// buffer-crc32 1.0.0's API (crc32(), .signed(), .unsigned(), chaining through `previous`) over Node's
// native zlib.crc32: yazl computes every entry's CRC through it, and the JavaScript table loop ran at
// ~95 MiB/s here against ~1.1 GiB/s native (bench `export`). Same results (test/export-names.test.ts). The bundle aliases yazl's import to it (scripts/build.ts).
'use strict';
const { crc32: native } = require('node:zlib');

const toBuffer = (input) => {
  if (Buffer.isBuffer(input)) return input;
  if (typeof input === 'number') return Buffer.alloc(input);
  if (typeof input === 'string') return Buffer.from(input);
  throw new Error(`input must be buffer, number, or string, received ${typeof input}`);
};
const start = (previous) => (Buffer.isBuffer(previous) ? previous.readUInt32BE(0) : previous >>> 0);
const unsigned = (buf, previous) => native(toBuffer(buf), start(previous));

function crc32(buf, previous) {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(unsigned(buf, previous), 0);
  return out;
}
crc32.signed = (buf, previous) => unsigned(buf, previous) | 0;
crc32.unsigned = unsigned;
module.exports = crc32;
