// File-system helpers with the guarantees the run folders rely on: every failure names its path
// (ENOSPC included), files and folders are replaced atomically (written beside, fsync'd, renamed),
// and a run folder has one writer (a lock file naming the holder's pid).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, IOError, PlfError } from '../errors.js';

/** Runs `fn`; a Node file-system error becomes an IOError naming `file` and what was being done. */
export function io<T>(what: string, file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PlfError) throw e;
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOSPC' ? 'ENOSPC: no space left on device' : err.code ? `${err.code}: ${err.syscall ?? ''}`.trim() : err.message;
    throw new IOError(`${file}: cannot ${what} (${why})`, 'PLF_IO');
  }
}

/** Writes a whole file to `file.tmp-PID` (the data, or what `data(fd)` writes), fsyncs it and renames it into place. */
export function writeFileAtomic(file: string, data: string | Uint8Array | ((fd: number) => void)): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    io('write', file, () => {
      const fd = fs.openSync(tmp, 'w');
      try {
        if (typeof data === 'function') data(fd);
        else fs.writeFileSync(fd, data);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    });
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Replaces folder `dir` by what `fill(tmp)` writes into a fresh temp folder beside it: a crash or a
 * failed write (ENOSPC) at any point leaves the previous `dir` intact (or, between the two renames,
 * complete as `dir.old-PID`); the temp folder of a failed write is removed.
 */
export function replaceDir(dir: string, fill: (tmp: string) => void): void {
  const tmp = `${dir}.tmp-${process.pid}`,
    old = `${dir}.old-${process.pid}`;
  try {
    io('clear', tmp, () => fs.rmSync(tmp, { recursive: true, force: true }));
    io('create', tmp, () => fs.mkdirSync(tmp, { recursive: true }));
    fill(tmp);
    io('replace', dir, () => {
      const had = fs.existsSync(dir);
      if (had) fs.renameSync(dir, old);
      try {
        fs.renameSync(tmp, dir);
      } catch (e) {
        if (had) fs.renameSync(old, dir); // put the previous version back
        throw e;
      }
    });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  fs.rmSync(old, { recursive: true, force: true });
}

/**
 * After a kill: brings `dir` back to the last complete version replaceDir wrote and removes what
 * the dead writers left. `dir` missing beside an `old-` folder means the kill fell between the two
 * renames, when the `tmp-` folder was already complete; a `tmp-` folder alone is a partial write.
 */
export function recoverDir(dir: string): void {
  const parent = path.dirname(dir),
    base = path.basename(dir);
  if (!fs.existsSync(parent)) return;
  const side = (kind: string) =>
    fs
      .readdirSync(parent)
      .filter((n) => n.startsWith(`${base}.${kind}-`) && /-\d+$/.test(n))
      .map((n) => path.join(parent, n));
  const tmps = side('tmp'),
    olds = side('old');
  if (!fs.existsSync(dir) && olds.length && tmps.length) io('restore', dir, () => fs.renameSync(tmps[tmps.length - 1], dir));
  if (!fs.existsSync(dir) && olds.length) io('restore', dir, () => fs.renameSync(olds[olds.length - 1], dir));
  for (const p of side('tmp').concat(side('old'))) fs.rmSync(p, { recursive: true, force: true });
}

const held = new Map<string, number>(); // lock file -> how many holders in this process

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the run folder `dir` for this process: `dir/.lock` holds {pid, host, since}. A second
 * process is refused with the holder's pid; a lock left by a dead process (kill -9) is taken over.
 * Re-entrant within a process. Returns the release function.
 */
export function lockRunFolder(dir: string, o: { takeOverRemote?: boolean } = {}): () => void {
  io('create', dir, () => fs.mkdirSync(dir, { recursive: true }));
  const file = path.join(dir, '.lock');
  const n = held.get(file) ?? 0;
  if (n > 0) {
    held.set(file, n + 1);
    return once(() => release(file));
  }
  const me = JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() });
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeFileSync(fd, me);
      fs.closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2)
        io('lock', file, () => {
          throw e;
        });
      let holder: { pid?: unknown; host?: unknown; since?: unknown } = {};
      try {
        holder = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch {
        /* torn or unreadable: stale */
      }
      const pid = Number(holder.pid);
      // a lock from another host cannot be checked from here; takeOverRemote: the caller holds the
      // run by other means (a queue job, whose previous holder stalled) and takes it over
      const remote = holder.host !== os.hostname();
      if (Number.isInteger(pid) && pid > 0 && (remote ? !o.takeOverRemote : alive(pid)))
        throw new ConfigError(
          `${dir} is in use by another run (pid ${pid} on ${String(holder.host)}, since ${String(holder.since)}); ` +
            `wait for it to finish or choose another output folder`,
          'PLF_LOCKED',
        );
      fs.rmSync(file, { force: true }); // its holder is gone: take it over
    }
  }
  held.set(file, 1);
  return once(() => release(file));
}

/** fn() while holding run folder `dir` (lockRunFolder); released when fn returns, throws or its promise settles. */
export function withRunFolder<T>(dir: string, fn: () => T, o: { takeOverRemote?: boolean } = {}): T {
  const unlock = lockRunFolder(dir, o);
  let r: T;
  try {
    r = fn();
  } catch (e) {
    unlock();
    throw e;
  }
  if (r instanceof Promise) return r.finally(unlock) as T;
  unlock();
  return r;
}

function release(file: string): void {
  const n = (held.get(file) ?? 1) - 1;
  if (n > 0) {
    held.set(file, n);
    return;
  }
  held.delete(file);
  try {
    if (JSON.parse(fs.readFileSync(file, 'utf8')).pid === process.pid) fs.rmSync(file, { force: true });
  } catch {
    /* already gone */
  }
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
}
