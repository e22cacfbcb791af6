/**
 * The log scrubber and the line cap. Work is counted (characters looked at), not timed: the old
 * regex looked at ~n²/6 characters of `eyJ`×n; the scan must stay linear.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatLogLine, MAX_LOG_LINE_LENGTH, scrubSecrets, type ScrubStats } from "../../src/logging.js";

const REFERENCE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const reference = (text: string) => text.replace(REFERENCE, "[redacted-jwt]");
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYWxsZXIifQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";

function work(text: string): number {
  const stats: ScrubStats = { steps: 0 };
  scrubSecrets(text, stats);
  return stats.steps;
}

describe("scrubSecrets", () => {
  it.each([
    ["eyJ × n (the hostile URL)", (n: number) => "eyJ".repeat(n)],
    ["eyJ…. × n (first segment and a dot, never a second)", (n: number) => "eyJabcd.".repeat(n)],
    ["eyJabcd.efgh × n (two segments, no second dot)", (n: number) => "eyJabcd.efgh".repeat(n)],
    ["tokens back to back", (n: number) => `${JWT}.`.repeat(n)],
  ])("looks at each character a bounded number of times: %s", (_name, make) => {
    const small = make(1_000);
    const large = make(10_000);
    expect(work(small)).toBeGreaterThan(0);
    // Linear: ten times the input, about ten times the work, and a few steps per character.
    expect(work(large) / work(small)).toBeLessThan(11);
    expect(work(large)).toBeLessThanOrEqual(4 * large.length);
  });

  it("redacts exactly what the old regex redacted", () => {
    const alphabet = fc.constantFrom("e", "y", "J", "eyJ", "a", "Z", "0", "-", "_", ".", " ", '"', "eyJabcd", "efgh.");
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 60 }).map((parts) => parts.join("")),
        (text) => {
          expect(scrubSecrets(text)).toBe(reference(text));
        },
      ),
      { numRuns: 3_000 },
    );
    expect(scrubSecrets(`before ${JWT} after ${JWT}`)).toBe("before [redacted-jwt] after [redacted-jwt]");
  });
});

describe("formatLogLine", () => {
  it("writes exactly the text of one spread record: time, level, event, then the fields in order", () => {
    const now = new Date("2026-12-01T12:00:00.123Z");
    const spread = (level: "info" | "warn", event: string, fields: Record<string, unknown>) =>
      JSON.stringify({ time: now.toISOString(), level, event, ...fields }, (_key, value: unknown) =>
        value instanceof Error ? { name: value.name, message: value.message } : value,
      );
    const cases: [string, Record<string, unknown>][] = [
      ["token-request", { status: 200, outcome: "served", requestedProfile: null, callerAppId: 'a"b\u2028c', profile: "skatt" }],
      ["empty", {}],
      ['quote"d event', { nested: { list: [1, "two", null] }, skipped: undefined }],
      ["failure", { error: new Error("went wrong"), code: "ERR_X" }],
      // A field named like a leading key replaces its value in place, as the spread does.
      ["shadowed", { event: "from-fields", level: "error", extra: 1 }],
    ];
    for (const [event, fields] of cases) {
      expect(formatLogLine("warn", event, fields, now)).toBe(spread("warn", event, fields));
    }
  });

  it("caps a line, field by field, scrubbing before it cuts, and stays one JSON object", () => {
    const hostile = "eyJ".repeat(5_000);
    // A token straddling the cut: cutting first would leave a fragment the scrubber no longer sees.
    const straddling = `${"x".repeat(200)}${JWT}`;
    const line = formatLogLine("warn", "token-request", { path: hostile, message: straddling, status: 401, nested: { list: [1, 2] } });
    expect(line.length).toBeLessThanOrEqual(MAX_LOG_LINE_LENGTH);
    const record = JSON.parse(line) as Record<string, unknown>;
    expect(record).toMatchObject({ event: "token-request", status: 401, truncated: true, nested: { list: [1, 2] } });
    expect(record.originalLength).toBeGreaterThan(15_000);
    expect(line).not.toContain(JWT.slice(0, 30));
    expect(line).not.toContain(JWT.split(".")[2]!.slice(0, 12));

    const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`field${i}`, "v".repeat(300)]));
    const fallback = formatLogLine("info", "x", many);
    expect(fallback.length).toBeLessThanOrEqual(MAX_LOG_LINE_LENGTH);
    expect(JSON.parse(fallback)).toMatchObject({ event: "x", truncated: true });
  });

  it("gives a frozen fields object (a repeat caller's audit line, formatted once) the very line an unfrozen copy gets", () => {
    const now = new Date("2026-12-01T12:00:00.123Z");
    const cases: [string, Record<string, unknown>][] = [
      ["token-request", { status: 200, outcome: "served", requestedProfile: null, callerAppId: 'a"b\u2028c', profile: "skatt" }],
      ["empty", {}],
      ["leaky", { status: 200, token: JWT, note: `x${JWT}y` }],
      [`event ${JWT}`, { status: 200 }],
      ['quote"d event', { nested: { list: [1, "two", null] }, skipped: undefined }],
      ["failure", { error: new Error("went wrong"), code: "ERR_X" }],
      ["shadowed", { event: "from-fields", level: "error", extra: 1 }],
      ["oversize", { path: "eyJ".repeat(5_000), status: 401 }],
    ];
    for (const [event, fields] of cases) {
      const frozen = Object.freeze({ ...fields });
      const expected = formatLogLine("warn", event, { ...fields }, now);
      // Twice: the first call makes the frozen object's part, the second reuses it.
      expect(formatLogLine("warn", event, frozen, now)).toBe(expected);
      expect(formatLogLine("warn", event, frozen, now)).toBe(expected);
      expect(formatLogLine("info", event, frozen, new Date(0))).toBe(formatLogLine("info", event, { ...fields }, new Date(0)));
    }
    expect(formatLogLine("info", "leaky", Object.freeze({ token: JWT }), now)).not.toContain(JWT.slice(0, 30));
  });

  it("leaves ordinary lines alone", () => {
    const line = formatLogLine("info", "renewal", { profile: "skatt", token: JWT }, new Date(0));
    expect(JSON.parse(line)).toEqual({
      time: "1970-01-01T00:00:00.000Z",
      level: "info",
      event: "renewal",
      profile: "skatt",
      token: "[redacted-jwt]",
    });
  });
});
