/**
 * Monitoring rules the timer applies after renewing: certificate-expiry and renewal-schedule
 * warnings (each at most once a day per subject: an alert rule reads them, more is noise) and the
 * certificate and registered-key days-left gauges. Pure: the signer, key registration and tokens it
 * looks at are passed in as plain views, so the rules are tested without Key Vault or Digdir.
 */
import type { TokenProfile } from "../config/domain.js";
import type { KeyRegistrationStatus } from "../keys/key-registration.js";
import type { Logger } from "../logging.js";
import type { Metrics } from "../metrics.js";
import { scheduleTooSlow, type RenewalPolicy } from "../renewal/policy.js";
import type { StoredToken } from "../token-store/stored-token.js";

const DAY_MS = 86_400_000;

/** What monitoring needs of a profile's signer: its last resolved key, and a way to refresh it. */
export interface SigningKeyView {
  /** Resolves the current key (the signer reads at most hourly, backed off after failures). */
  currentKey(): Promise<unknown>;
  /** The key resolved last, without I/O. */
  knownKey(): { certificateNotAfter?: Date } | undefined;
}

export interface MonitoringOptions {
  profiles: readonly TokenProfile[];
  signerFor(profile: TokenProfile): SigningKeyView;
  /** Key registration status of a profile; undefined when it registers no key. */
  registrationOf(profileName: string): KeyRegistrationStatus | undefined;
  policy: RenewalPolicy;
  /** Warn when the signing certificate expires within this many days. */
  certificateWarningDays: number;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
}

export interface Monitoring {
  /** From memory only: what the signer resolved last (renewals and the timer keep it current). */
  certificateHealth(profile: TokenProfile): { certificateNotAfter?: Date; certificateDaysLeft?: number };
  /** Resolves the signing key, then warns (daily) when the certificate expires within the warning days. */
  warnIfCertificateExpiring(profile: TokenProfile): Promise<void>;
  /** Warns (daily) when the timer's interval is too long for the token's lifetime and renewal ratio. */
  warnIfScheduleTooSlow(profileName: string, token: StoredToken | undefined, intervalMs: number): void;
  /**
   * After a key sync: days left of the registration each profile signs with (role current), as a
   * gauge. Foreign keys and a previous key being retired are not the broker's to keep alive.
   */
  recordKeyDaysLeft(): void;
}

export function createMonitoring(options: MonitoringOptions): Monitoring {
  const { logger, metrics, now, policy } = options;
  const lastWarning = new Map<string, number>();
  const warnDaily = (subject: string, event: string, fields: Record<string, unknown>) => {
    if (now() - (lastWarning.get(`${event}:${subject}`) ?? -Infinity) < DAY_MS) return;
    lastWarning.set(`${event}:${subject}`, now());
    logger.log("warn", event, fields);
  };

  function certificateHealth(profile: TokenProfile): { certificateNotAfter?: Date; certificateDaysLeft?: number } {
    if (profile.signing.kind !== "certificate") return {};
    const notAfter = options.signerFor(profile).knownKey()?.certificateNotAfter;
    if (!notAfter) return {};
    const certificateDaysLeft = Math.floor((notAfter.getTime() - now()) / DAY_MS);
    metrics.certificateDaysLeft(profile.name, certificateDaysLeft);
    return { certificateNotAfter: notAfter, certificateDaysLeft };
  }

  return {
    certificateHealth,
    async warnIfCertificateExpiring(profile) {
      if (profile.signing.kind !== "certificate") return;
      await options
        .signerFor(profile)
        .currentKey()
        .catch(() => undefined);
      const { certificateDaysLeft, certificateNotAfter } = certificateHealth(profile);
      if (certificateDaysLeft === undefined || certificateDaysLeft > options.certificateWarningDays) return;
      const certificate = profile.signing.certificateName;
      warnDaily(certificate, "certificate-expiry", {
        certificate,
        notAfter: certificateNotAfter!.toISOString(),
        daysLeft: certificateDaysLeft,
      });
    },
    warnIfScheduleTooSlow(profileName, token, intervalMs) {
      if (!token || !scheduleTooSlow(token, policy, intervalMs)) return;
      warnDaily(profileName, "renewal-schedule-too-slow", {
        profile: profileName,
        tokenLifetimeSeconds: Math.round((token.expiresAt.getTime() - token.issuedAt.getTime()) / 1000),
        scheduleIntervalSeconds: Math.round(intervalMs / 1000),
        renewWhenRemainingRatio: policy.renewWhenRemainingRatio,
        message:
          "RENEW_SCHEDULE fires less often than lifetime × RENEW_BEFORE_EXPIRY_RATIO: the stored token lapses between ticks; shorten the schedule",
      });
    },
    recordKeyDaysLeft() {
      for (const profile of options.profiles) {
        const keys = options.registrationOf(profile.name)?.keys ?? [];
        const days = keys.flatMap((key) => (key.role === "current" && key.daysLeft !== undefined ? [key.daysLeft] : []));
        if (days.length > 0) metrics.registeredKeyDaysLeft(profile.name, Math.min(...days));
      }
    },
  };
}
