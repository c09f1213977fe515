// Ordered, back-pressured writes to standard output (index or blob to '-').

import { WasyncError } from '../../../errors.ts';

export function writeStdout(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(bytes, (err) =>
      err ? reject(new WasyncError('EOUTPUT', `standard output: ${err.message}`)) : resolve(),
    );
  });
}
