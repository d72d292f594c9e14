/**
 * PGlite is one in-process Postgres over plain files: two processes on the same
 * directory would corrupt it. A lock file next to the data names its holder, so the
 * second process can say exactly who is in the way.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";

interface LockOwner {
  pid: number;
  hostname: string;
  command: string;
  startedAt: string;
}

export class DataDirInUseError extends Error {
  readonly code = "data_dir_in_use";
  constructor(
    readonly directory: string,
    readonly owner: LockOwner,
  ) {
    super(
      `The data directory ${directory} is in use by process ${owner.pid} on ${owner.hostname} ` +
        `(${owner.command}, started ${owner.startedAt}). Stop that process, or give this one its own ` +
        "DROPFLOW_DATA_DIR (or a DATABASE_URL).",
    );
    this.name = "DataDirInUseError";
  }
}

export interface DataDirLock {
  path: string;
  release(): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOwner(file: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LockOwner;
  } catch (error) {
    // Missing (released meanwhile) or half-written: treat as no owner.
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || error instanceof SyntaxError) return null;
    throw error;
  }
}

/** Takes `<directory>/dropflow.lock`, replacing a stale lock of a dead process on this host. */
export function lockDataDir(directory: string): DataDirLock {
  mkdirSync(directory, { recursive: true });
  const file = path.join(directory, "dropflow.lock");
  const me: LockOwner = {
    pid: process.pid,
    hostname: os.hostname(),
    command: process.argv
      .slice(1)
      .map((arg) => path.relative(process.cwd(), arg) || arg)
      .join(" "),
    startedAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off("exit", release);
        if (readOwner(file)?.pid === process.pid) rmSync(file, { force: true });
      };
      process.on("exit", release);
      return { path: file, release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = readOwner(file);
    if (owner && (owner.hostname !== me.hostname || isAlive(owner.pid))) {
      throw new DataDirInUseError(directory, owner);
    }
    rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new Error(`Could not take the lock ${file}`);
}
