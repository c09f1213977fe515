// Runs many wasync command lines in one process (node start-up costs more than
// most inspections), for the differential tests of list/mtree/stat/digest.
// Input on stdin: a JSON array of argv arrays.  Output on stdout: a JSON array of
// { status, stdout, stderr }, the outputs base64-encoded.  Uses the built CLI.

import { main } from '../dist/src/cli/main.js';

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const jobs = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const realOut = process.stdout.write.bind(process.stdout);
const realErr = process.stderr.write.bind(process.stderr);
const capture = (into) => (chunk, enc, cb) => {
  into.push(typeof chunk === 'string' ? Buffer.from(chunk, typeof enc === 'string' ? enc : 'utf8') : Buffer.from(chunk));
  const done = typeof enc === 'function' ? enc : cb;
  if (done) queueMicrotask(() => done());
  return true;
};

const results = [];
for (const args of jobs) {
  const out = [];
  const err = [];
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
  let status;
  try {
    status = await main(args);
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
  results.push({ status, stdout: Buffer.concat(out).toString('base64'), stderr: Buffer.concat(err).toString('base64') });
}
realOut(JSON.stringify(results), () => process.exit(0));
