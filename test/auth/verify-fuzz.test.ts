/**
 * Property-based fuzzing of verify() against the real Entra stand-in: whatever arrives, the only
 * possible failure is CallerAuthError(ERR_UNAUTHENTICATED), and nothing invalid is ever accepted.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { CallerAuthError, type CallerVerifier } from "../../src/auth/index.js";
import { startEntraStandIn, type EntraStandIn } from "../../sandbox/entra/standin.js";
import { encodeJson, segments, validClaims, verifierFor } from "./helpers.js";

let standIn: EntraStandIn;
let verifier: CallerVerifier;
const NOW_MS = Date.now();
const NOW = Math.floor(NOW_MS / 1000);
const TOLERANCE = 60;

beforeAll(async () => {
  standIn = await startEntraStandIn();
  verifier = verifierFor(standIn, { now: () => NOW_MS, clockToleranceSeconds: TOLERANCE });
});
afterAll(async () => {
  await standIn.close();
});

/** true when verify() refused with the one allowed error; false when it accepted or threw anything else. */
async function refused(header: unknown): Promise<boolean> {
  try {
    await verifier.verify(header as string);
    return false;
  } catch (error) {
    return error instanceof CallerAuthError && error.code === ErrorCode.Unauthenticated;
  }
}

const base64urlBytes = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString("base64url"));

describe("verify() under fuzzing", () => {
  it("refuses random strings and random values", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `Bearer ${s}`),
          fc.anything(),
          fc.string({ unit: "binary" }),
        ),
        refused,
      ),
      { numRuns: 1_000 },
    );
  });

  it("refuses random JWS-shaped structures (random header, claims and signature)", async () => {
    const header = fc.record(
      {
        alg: fc.oneof(fc.constantFrom("RS256", "none", "HS256", "RS512", "PS256", "ES256", "dir"), fc.anything()),
        kid: fc.oneof(fc.constant(standIn.currentKid), fc.string(), fc.anything()),
        typ: fc.constantFrom("JWT", "at+jwt", "JWE"),
        crit: fc.array(fc.string(), { maxLength: 2 }),
        enc: fc.constant("A256GCM"),
        b64: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    const claims = fc.oneof(
      fc.dictionary(fc.constantFrom("iss", "aud", "tid", "exp", "nbf", "iat", "azp", "roles", "ver"), fc.jsonValue()),
      fc.constant(validClaims(standIn, NOW)),
      fc.jsonValue(),
    );
    const segment = (value: fc.Arbitrary<unknown>) => fc.oneof(value.map(encodeJson), base64urlBytes);
    const token = fc
      .tuple(segment(header), segment(claims), base64urlBytes, fc.array(base64urlBytes, { maxLength: 3 }))
      .map(([h, p, s, extra]) => [h, p, s, ...extra].join("."));
    await fc.assert(
      fc.asyncProperty(token, (t) => refused(`Bearer ${t}`)),
      { numRuns: 1_000 },
    );
  });

  it("refuses every one-character change to a valid token", async () => {
    const token = standIn.mintToken({ roles: ["R"] });
    await expect(verifier.verify(`Bearer ${token}`)).resolves.toMatchObject({ roles: ["R"] });
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // The signature's last character carries padding bits that decode to nothing; leave it alone.
    const positions = fc.integer({ min: 0, max: token.length - 2 }).filter((i) => token[i] !== ".");
    const changed = fc
      .tuple(positions, fc.constantFrom(...alphabet))
      .filter(([i, c]) => token[i] !== c)
      .map(([i, c]) => `${token.slice(0, i)}${c}${token.slice(i + 1)}`);
    await fc.assert(
      fc.asyncProperty(changed, (t) => refused(`Bearer ${t}`)),
      { numRuns: 500 },
    );
  });

  it("accepts a properly signed token exactly when its claims are valid", async () => {
    const v2 = standIn.issuer;
    const v1 = `${standIn.authorityHost}/${standIn.tenantId}/`;
    const audiences = [standIn.audience, ...standIn.audienceUris];
    const time = (offsets: number[]) => offsets.map((offset) => NOW + offset);
    // Per claim: values a valid token may carry, and values that must be refused.
    const choices: Record<string, { valid: unknown[]; invalid: unknown[] }> = {
      iss: { valid: [v2], invalid: [v1, `${v2}/`, "https://sts.windows.net/x/", 1] },
      ver: { valid: ["2.0"], invalid: ["1.0", 2] },
      scp: { valid: [null], invalid: ["user_impersonation", ""] },
      idtyp: { valid: ["app", null], invalid: ["user", "device"] },
      aud: { valid: [...audiences, [standIn.audience, "x"]], invalid: ["api://other", [], [1]] },
      tid: { valid: [standIn.tenantId, standIn.tenantId.toUpperCase()], invalid: ["9d3c5b1a-0e2f-4a6b-8c7d-1e2f3a4b5c6d", 7] },
      exp: { valid: time([-59, 1, 600, 3600, 86_400 + 59]), invalid: [...time([-3600, -61, 86_400 + 61]), "soon"] },
      nbf: { valid: time([-600, 0, 59]), invalid: [...time([61, 3600]), "now"] },
      iat: { valid: time([-600, 0]), invalid: ["then"] },
      azp: { valid: ["client-a"], invalid: ["", 5] },
      appid: { valid: ["client-b"], invalid: ["", 5] },
      oid: { valid: ["0b9f1d2e-3c4a-4b5c-9d6e-7f8a9b0c1d2e"], invalid: [5] },
      roles: { valid: [["R1"], ["R1", "R2"], []], invalid: ["R1", [1], {}] },
    };
    const validClaimsArb = fc.record(
      Object.fromEntries(Object.entries(choices).map(([name, { valid }]) => [name, fc.constantFrom(...valid)])),
    );
    const corruption = fc
      .subarray(Object.keys(choices), { maxLength: 2 })
      .chain((names) =>
        fc.tuple(
          ...names.map((name) =>
            fc.tuple(fc.constant(name), fc.oneof(fc.constantFrom(...choices[name]!.invalid), fc.constant(null), fc.jsonValue())),
          ),
        ),
      );
    const claims = fc
      .tuple(validClaimsArb, corruption)
      .map(([valid, corrupt]) => ({ ...valid, ...Object.fromEntries(corrupt) }) as Record<string, unknown>);

    const outcomes = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(claims, async (generated) => {
        const token = standIn.mintToken(generated);
        const actual = decodeClaims(token);
        const expected = isValid(actual, { v2, v1, audiences, tenantId: standIn.tenantId });
        try {
          const caller = await verifier.verify(`Bearer ${token}`);
          outcomes.accepted++;
          return expected && caller.appId === (actual["iss"] === v2 ? actual["azp"] : actual["appid"]);
        } catch (error) {
          outcomes.refused++;
          return !expected && error instanceof CallerAuthError && error.code === ErrorCode.Unauthenticated;
        }
      }),
      { numRuns: 1_000 },
    );
    // Both sides of the oracle were exercised, or the property proves little.
    expect(outcomes.accepted).toBeGreaterThan(10);
    expect(outcomes.refused).toBeGreaterThan(10);
  });
});

function decodeClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segments(token)[1], "base64url").toString("utf8")) as Record<string, unknown>;
}

/** The oracle: the rules of README "HTTP API" / issue 4 item 5, written out independently of the verifier. */
function isValid(claims: Record<string, unknown>, expected: { v2: string; v1: string; audiences: string[]; tenantId: string }): boolean {
  const { iss, aud, tid, exp, nbf, iat, azp, appid, oid, roles, ver, scp, idtyp } = claims;
  // App tokens, v2.0 only (README "HTTP API").
  if (iss !== expected.v2 || ver !== "2.0") return false;
  if (scp !== undefined || (idtyp !== undefined && idtyp !== "app")) return false;
  const audienceList = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
  if (Array.isArray(aud) && !aud.every((a) => typeof a === "string")) return false;
  if (!audienceList.some((a) => expected.audiences.includes(a as string))) return false;
  if (typeof tid !== "string" || tid.toLowerCase() !== expected.tenantId) return false;
  if (typeof exp !== "number" || exp <= NOW - TOLERANCE || exp - NOW > 86_400 + TOLERANCE) return false;
  if (nbf !== undefined && (typeof nbf !== "number" || nbf > NOW + TOLERANCE)) return false;
  if (iat !== undefined && typeof iat !== "number") return false;
  const appId = iss === expected.v2 ? azp : appid;
  if (typeof appId !== "string" || appId === "") return false;
  if (oid !== undefined && typeof oid !== "string") return false;
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((r) => typeof r === "string"))) return false;
  return true;
}
