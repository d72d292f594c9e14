/**
 * What the throwaway test servers (postgres.ts, redis.ts) share: a watchdog that stops
 * them however the test process dies, free loopback ports, and stopping a child.
 */
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";

/**
 * The watchdog reads pids (one per line) on stdin until EOF. EOF comes when the pipe's
 * last writer is gone, i.e. when the starting process exits or is killed, even with
 * SIGKILL; then it asks each pid to stop (SIGINT: fast shutdown), waits up to ten
 * seconds, kills what is left and deletes the directory. Detached, in its own session,
 * so a Ctrl-C aimed at the test runner's process group does not take it down first.
 */
const WATCHDOG_SCRIPT = `
dir="$1"
pids=""
# A stopped server we no longer parent stays a zombie until init reaps it, and kill -0
# still succeeds on a zombie; /proc tells the difference where there is one.
alive() {
  if [ -e "/proc/$1/stat" ]; then
    read -r _ _ state _ < "/proc/$1/stat" 2>/dev/null && [ "$state" != Z ]
  else
    kill -0 "$1" 2>/dev/null
  fi
}
while IFS= read -r line; do pids="$pids $line"; done
for p in $pids; do kill -INT "$p" 2>/dev/null; done
i=0
while [ "$i" -lt 100 ]; do
  alive=""
  for p in $pids; do alive "$p" && alive=1; done
  [ -z "$alive" ] && break
  sleep 0.1
  i=$((i + 1))
done
for p in $pids; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
rm -rf "$dir"
`;

/** `name` is the watchdog's $0, what `ps` shows. */
export function spawnWatchdog(directory: string, name: string): ChildProcess {
  const watchdog = spawn("sh", ["-c", WATCHDOG_SCRIPT, name, directory], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  watchdog.unref();
  // Neither the pipe nor the child may keep the test runner alive; the pipe only has to exist.
  (watchdog.stdin as unknown as net.Socket).unref();
  watchdog.stdin?.on("error", (error: NodeJS.ErrnoException) => {
    // The watchdog already gone (EPIPE) only matters if it died early, and then stop() cleans up.
    if (error.code !== "EPIPE") throw error;
  });
  return watchdog;
}

export function watch(watchdog: ChildProcess, child: ChildProcess): void {
  if (child.pid !== undefined) watchdog.stdin?.write(`${child.pid}\n`);
}

/** Closing the pipe lets the watchdog run its (by then empty-handed) cleanup and exit. */
export async function releaseWatchdog(watchdog: ChildProcess): Promise<void> {
  // It was unref'd so as never to hold the runner open; waiting for it must.
  watchdog.ref();
  const watchdogExited = exitOf(watchdog);
  watchdog.stdin?.end();
  await watchdogExited;
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode);
      return;
    }
    child.once("error", reject);
    child.once("exit", (code) => resolve(code));
  });
}

export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const address = probe.address() as net.AddressInfo;
      probe.close(() => resolve(address.port));
    });
  });
}

/** SIGINT (postgres: fast shutdown; redis: shutdown without saving here), SIGKILL after `killAfterMs`. */
export async function stopProcess(child: ChildProcess, killAfterMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // Unref'd so as never to hold the runner open; waiting for it must.
  child.ref();
  const exited = exitOf(child);
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
