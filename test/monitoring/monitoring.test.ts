import { describe, expect, it } from "vitest";
import type { TokenProfile } from "../../src/config/domain.js";
import type { KeyRegistrationStatus } from "../../src/keys/key-registration.js";
import { noMetrics, type Metrics } from "../../src/metrics.js";
import { createMonitoring, type SigningKeyView } from "../../src/monitoring/monitoring.js";
import type { StoredToken } from "../../src/token-store/stored-token.js";

const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 0, 1);

const profile: TokenProfile = {
  name: "skatt",
  clientId: "client",
  scopes: ["skatteetaten:testnorge"],
  issuer: "https://test.maskinporten.no/",
  secretName: "maskinporten-skatt",
  role: "Token.skatt",
  signing: { kind: "certificate", certificateName: "virksomhet", alg: "RS256", chain: [] },
};

function harness(options: { notAfter?: Date; registration?: KeyRegistrationStatus } = {}) {
  let clock = START;
  const lines: Array<{ event: string; fields: Record<string, unknown> | undefined }> = [];
  const gauges: string[] = [];
  let refreshes = 0;
  const signer: SigningKeyView = {
    async currentKey() {
      refreshes += 1;
      return {};
    },
    knownKey: () => (options.notAfter ? { certificateNotAfter: options.notAfter } : undefined),
  };
  const metrics: Metrics = {
    ...noMetrics,
    certificateDaysLeft: (name, days) => gauges.push(`certificate ${name} ${days}`),
    registeredKeyDaysLeft: (name, days) => gauges.push(`key ${name} ${days}`),
  };
  const monitoring = createMonitoring({
    profiles: [profile],
    signerFor: () => signer,
    registrationOf: () => options.registration,
    policy: { renewWhenRemainingRatio: 0.5, minServeRemainingMs: 10_000 },
    certificateWarningDays: 30,
    logger: { log: (_level, event, fields) => lines.push({ event, fields }) },
    metrics,
    now: () => clock,
  });
  return { monitoring, lines, gauges, refreshes: () => refreshes, advance: (ms: number) => (clock += ms) };
}

describe("monitoring rules", () => {
  it("warns of an expiring certificate once a day, after refreshing the signing key", async () => {
    const h = harness({ notAfter: new Date(START + 10 * DAY_MS) });
    await h.monitoring.warnIfCertificateExpiring(profile);
    await h.monitoring.warnIfCertificateExpiring(profile);
    expect(h.refreshes()).toBe(2);
    expect(h.lines).toEqual([
      {
        event: "certificate-expiry",
        fields: { certificate: "virksomhet", notAfter: new Date(START + 10 * DAY_MS).toISOString(), daysLeft: 10 },
      },
    ]);
    h.advance(DAY_MS);
    await h.monitoring.warnIfCertificateExpiring(profile);
    expect(h.lines.map((l) => l.fields?.["daysLeft"])).toEqual([10, 9]);
    expect(h.gauges).toContain("certificate skatt 9");
  });

  it("stays quiet while the certificate has more than the warning days left", async () => {
    const h = harness({ notAfter: new Date(START + 31 * DAY_MS) });
    await h.monitoring.warnIfCertificateExpiring(profile);
    expect(h.lines).toEqual([]);
    expect(h.monitoring.certificateHealth(profile)).toEqual({
      certificateNotAfter: new Date(START + 31 * DAY_MS),
      certificateDaysLeft: 31,
    });
  });

  it("warns once a day when the schedule is slower than lifetime × ratio", () => {
    const h = harness();
    const token = { issuedAt: new Date(START), expiresAt: new Date(START + 120_000) } as StoredToken;
    h.monitoring.warnIfScheduleTooSlow("skatt", token, 60_000);
    expect(h.lines).toEqual([]);
    h.monitoring.warnIfScheduleTooSlow("skatt", token, 61_000);
    h.monitoring.warnIfScheduleTooSlow("skatt", token, 61_000);
    expect(h.lines.map((l) => [l.event, l.fields?.["tokenLifetimeSeconds"], l.fields?.["scheduleIntervalSeconds"]])).toEqual([
      ["renewal-schedule-too-slow", 120, 61],
    ]);
    h.monitoring.warnIfScheduleTooSlow("skatt", undefined, 61_000);
    expect(h.lines).toHaveLength(1);
  });

  it("gauges the fewest days left of the keys the profile signs with, ignoring retiring and foreign ones", () => {
    const registration = {
      clientId: "client",
      keys: [
        { role: "current", daysLeft: 200 },
        { role: "current", daysLeft: 150 },
        { role: "previous", daysLeft: 3 },
        { role: "foreign", daysLeft: 1 },
      ],
    } as unknown as KeyRegistrationStatus;
    const h = harness({ registration });
    h.monitoring.recordKeyDaysLeft();
    expect(h.gauges).toEqual(["key skatt 150"]);
  });
});
