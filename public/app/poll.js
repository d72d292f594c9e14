/**
 * Polling, the way the page stays live: the work itself runs on the server, so the page
 * only asks how it is going. Fast while something runs, slow when all is still, and
 * slow while the tab is hidden. Closing the tab loses nothing.
 */

export const ACTIVE_MS = 1000;
export const IDLE_MS = 10_000;

/**
 * `task` refreshes what a view shows and resolves to true while something it shows is
 * still running. `onError` gets a failed refresh (the next one is tried all the same),
 * and null at the first refresh that works again.
 */
export function poller(task, onError) {
  let timer = null;
  let stopped = true;
  let inFlight = false;
  let again = false;
  let failing = false;

  async function tick() {
    timer = null;
    if (stopped) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    let active = false;
    try {
      active = await task();
      if (failing) onError(null);
      failing = false;
    } catch (error) {
      failing = true;
      onError(error);
    } finally {
      inFlight = false;
    }
    if (stopped) return;
    if (again) {
      again = false;
      timer = setTimeout(tick, 0);
      return;
    }
    timer = setTimeout(tick, active && !document.hidden ? ACTIVE_MS : IDLE_MS);
  }

  // Back to a hidden tab: refresh at once instead of at the next slow tick.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !stopped) {
      clearTimeout(timer);
      void tick();
    }
  });

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      void tick();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = null;
    },
    /** Refresh now (after an action), then go on polling. */
    now() {
      if (stopped) return;
      clearTimeout(timer);
      void tick();
    },
  };
}
