// `node --import ./ts5-hook.ts generate.ts <openapi.json> <out.ts>`: the typed client's types, with
// openapi-typescript. A binary string (the upload's file part) becomes a Blob, as its docs recommend, so
// a client passes a file rather than a string.
import { readFile, writeFile } from 'node:fs/promises';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript5';

const [input, output] = process.argv.slice(2) as [string, string];
const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier('Blob'));
const ast = await openapiTS(JSON.parse(await readFile(input, 'utf8')), {
  transform: (schema) => (schema.format === 'binary' ? BLOB : undefined),
});
await writeFile(output, astToString(ast));
