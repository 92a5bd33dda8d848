/** Checkpoint files on disk (Node): atomic writes (temp file, fsync, rename). */

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkpointFromBytes, checkpointToBytes, restoreCheckpoint, type CheckpointContents } from './checkpoint.js';

/** Writes bytes so that `path` is either the old file or the complete new one, never half. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
}

export function saveCheckpoint(path: string, contents: CheckpointContents): void {
  writeFileAtomic(path, checkpointToBytes(contents));
}

/** Reads and rebuilds: { model, optimizer, fitState, vocab, extra }. Needs `await init()`. */
export function loadCheckpoint(path: string): ReturnType<typeof restoreCheckpoint> {
  return restoreCheckpoint(checkpointFromBytes(readFileSync(path)));
}
