/**
 * Runs `work` now and then every `everyMs`, never two runs at once (a run that overruns skips
 * the ticks it covers). The returned stop ends the ticks and waits for a run under way; `work`
 * is told through `stopping` so that a long run can end early.
 */
export function startPeriodic(
  everyMs: number,
  work: (stopping: () => boolean) => Promise<void>,
): () => Promise<void> {
  let running: Promise<void> | null = null;
  let stopped = false;
  const stopping = () => stopped;
  const tick = () => {
    if (stopped || running) return;
    running = work(stopping).finally(() => {
      running = null;
    });
  };
  const timer = setInterval(tick, everyMs);
  timer.unref();
  tick();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
