import functions, { type InvocationContext, type Timer } from "@azure/functions";
import { loadRuntime } from "../src/app/load-runtime.js";
import type { RenewalOutcome } from "../src/renewal/profile-tokens.js";

/** Runs the renewal policy for every profile; per-profile outcomes are logged by the broker too. */
export async function renewHandler(timer: Timer, context: InvocationContext): Promise<RenewalOutcome[]> {
  const runtime = await loadRuntime(); // a config error fails the invocation, which is what an operator should see
  const outcomes = await runtime.broker.renewAll("timer", scheduleOf(timer));
  runtime.logger.log(outcomes.some((o) => o.outcome === "failed") ? "warn" : "info", "renewal-tick", {
    invocationId: context.invocationId,
    pastDue: timer.isPastDue,
    outcomes: outcomes.map((o) => ({ profile: o.profile, outcome: o.outcome, expiresAt: o.expiresAt?.toISOString() ?? null })),
  });
  // Key registration after renewal, behind its own daily gate (a fresh process syncs once inside
  // renewAll, before signing, so the signer knows what is registered); it never throws.
  await runtime.broker.syncKeysIfDue();
  return outcomes;
}

// @azure/functions is CommonJS without detectable named exports: take `app` from the default export.
functions.app.timer("renew", { schedule: "%RENEW_SCHEDULE%", runOnStartup: false, handler: renewHandler });

/** The schedule's interval, from the host's record of the last and next occurrence (when it keeps one). */
function scheduleOf(timer: Timer): { intervalMs: number } | undefined {
  const last = Date.parse(timer.scheduleStatus?.last ?? "");
  const next = Date.parse(timer.scheduleStatus?.next ?? "");
  return next > last ? { intervalMs: next - last } : undefined;
}
