/** The soak's report as text: the figures issue 6 asks for, the invariants, and the outage plan. */
import type { SoakReport } from "./simulation.js";

export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "not recovered";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

const row = (label: string, value: string | number, note = "") =>
  `  ${label.padEnd(52)} ${String(value).padStart(10)}${note ? `   ${note}` : ""}`;
const check = (ok: boolean) => (ok ? "ok" : "BROKEN");

export function formatReport(r: SoakReport): string {
  const recoveries = r.recoveriesAfterOutagesLongerThanLifetimeMs;
  const blocking = r.outages.filter((o) => o.blocksRenewal);
  const partial = r.outages.filter((o) => !o.blocksRenewal);
  const window = (w: SoakReport["windows"][number]) => w.outages.map((o) => `${o.dependency}: ${o.kind}`).join(" + ");
  const lines = [
    `maskinporten-broker soak: seed ${r.seed}, ${duration(r.simulatedMs)} simulated from ${r.startIso} in ${duration(r.realMs)} real time`,
    `  profiles ${r.config.profiles.join(", ")}; token lifetime ${r.config.tokenLifetimeSeconds} s; RENEW_SCHEDULE "${r.config.renewSchedule}" (UTC);` +
      ` renew when < ${r.config.renewWhenRemainingRatio * 100} % left; a caller per profile every ${r.config.requestIntervalMs / 1000} s (±20 %)`,
    `  repeat with: npm run soak -- --seed ${r.seed} --hours ${r.simulatedMs / 3_600_000} --interval ${r.config.requestIntervalMs / 1000}`,
    "",
    row("requests", r.requests),
    row("  served (200)", r.served),
    row(
      "  refused (503 with Retry-After)",
      r.refused - Object.values(r.unexpectedStatuses).reduce((a, b) => a + b, 0),
      "while no valid token existed",
    ),
    row(
      "  other answers (401, 500, …)",
      Object.values(r.unexpectedStatuses).reduce((a, b) => a + b, 0),
      check(Object.keys(r.unexpectedStatuses).length === 0),
    ),
    row("expired tokens served", r.expiredServed, check(r.expiredServed === 0)),
    row(
      `tokens served with ≤ ${r.config.minServeRemainingMs / 1000} s left`,
      r.servedTooCloseToExpiry,
      check(r.servedTooCloseToExpiry === 0),
    ),
    row("requests refused while a valid token existed", r.refusedWhileValidTokenExisted, check(r.refusedWhileValidTokenExisted === 0)),
    row(
      "longest outage survived without a refusal",
      duration(r.longestOutageSurvivedMs),
      r.longestOutageSurvived ? window(r.longestOutageSurvived) : "",
    ),
    row(
      `recovery: valid token held again after an outage (target ≤ ${r.recoveryTargetMs / 1000} s)`,
      r.maxRecoveryMs === undefined ? "none" : `max ${duration(r.maxRecoveryMs)}`,
      `${check(r.maxRecoveryMs === undefined || r.maxRecoveryMs <= r.recoveryTargetMs)} over ${r.windows.filter((w) => w.judged).length} outages` +
        (recoveries.length === 0 ? "" : `; longer than the token lifetime (${recoveries.length}): ${recoveries.map(duration).join(", ")}`),
    ),
    row(
      `requests refused > ${r.recoveryTargetMs / 1000} s after an outage ended`,
      r.windows.reduce((n, w) => n + w.refusalsLate, 0),
      check(r.windows.every((w) => w.refusalsLate === 0)),
    ),
    row(
      "secret versions written per token received",
      r.secretVersionsPerTokenReceived.toFixed(3),
      `(${r.secretVersions} versions / ${r.tokensReceived} tokens the broker got)`,
    ),
    row(
      "secret versions written per token Maskinporten issued",
      r.secretVersionsPerTokenIssued.toFixed(3),
      `(${r.tokensIssued} issued, answers after a client timeout included)`,
    ),
    row("timer ticks", r.timerTicks),
    row(
      "Maskinporten token requests (retries included)",
      r.maskinportenTokenRequests,
      `max ${r.maxMaskinportenRequestsPerHour} in one hour`,
    ),
    row("renewal failures logged", r.renewalFailuresLogged),
    row("log lines scanned for tokens; leaks", `${r.logLines}; ${r.leaks}`, check(r.leaks === 0)),
    "",
    `  outages that block renewal (${blocking.length}, overlapping ones merged into ${r.windows.length} windows): UTC start, length, refusals during and after, recovery`,
    ...r.windows.map(
      (w) =>
        `    ${new Date(w.startMs).toISOString().slice(11, 19)} ${duration(w.endMs - w.startMs).padStart(14)}  refusals ${String(w.refusals).padStart(4)} + ${String(w.refusalsAfter).padStart(3)}  recovered in ${(w.judged ? duration(w.recoveryMs) : "(not judged)").padEnd(14)} ${window(w)}`,
    ),
    `  outages that leave renewal working, and slowdowns (${partial.length}): ` +
      (partial
        .map((o) => `${new Date(o.startMs).toISOString().slice(11, 16)} ${o.dependency} ${o.kind} ${duration(o.endMs - o.startMs)}`)
        .join("; ") || "none"),
    "",
    r.violations.length === 0
      ? "RESULT: every invariant held"
      : `RESULT: ${r.violations.length} invariant violation(s):\n${r.violations
          .slice(0, 50)
          .map((v) => `  - ${v}`)
          .join("\n")}`,
  ];
  return lines.join("\n");
}
