/**
 * Hostile callers, end to end: each row is one forged or malformed request sent over real HTTP to
 * the real token function (functions/token.ts behind a minimal Functions host), with caller tokens
 * from the Entra stand-in or crafted by hand. Each row checks the status, the WWW-Authenticate
 * challenge, and that the answer carries no token: not the one presented, not any Maskinporten
 * token, no `access_token` at all.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/app/runtime.js";
import { startWorld, type World } from "../../soak/harness/world.js";
import { hs256WithPublicKey } from "../auth/helpers.js";
import { startFunctionsHost, type FunctionsHost, type RawResponse } from "./functions-host.js";
import { captureLog, type CapturedLog } from "./helpers.js";

const PROFILE = "skatt";
const OTHER_PROFILE = "sdir";
const OTHER_TENANT = "9d3c5b1a-0e2f-4a6b-8c7d-1e2f3a4b5c6d";
const INVALID_TOKEN = 'Bearer error="invalid_token"';
const INSUFFICIENT_SCOPE = 'Bearer error="insufficient_scope"';

let world: World;
let runtime: Runtime;
let host: FunctionsHost;
let log: CapturedLog;

beforeAll(async () => {
  world = await startWorld({ tokenLifetimeSeconds: 600 });
  log = captureLog();
  runtime = world.runtime({ logger: log.logger });
  host = await startFunctionsHost(runtime);
});
afterAll(async () => {
  await host?.close();
  await world?.close();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const nowSeconds = () => Math.floor(world.clock.now() / 1000);
const valid = (extra: Record<string, unknown> = {}) => world.entra.mintToken({ roles: [world.roleOf(PROFILE)], ...extra });
const claims = (extra: Record<string, unknown> = {}) => ({
  iss: world.entra.issuer,
  aud: world.entra.audience,
  tid: world.entra.tenantId,
  iat: nowSeconds(),
  nbf: nowSeconds(),
  exp: nowSeconds() + 3600,
  azp: world.entra.defaultCallerAppId,
  ver: "2.0",
  roles: [world.roleOf(PROFILE)],
  ...extra,
});
const segments = (token: string) => token.split(".") as [string, string, string];

/** Signed with a key Entra never published, under a kid of our choosing. */
function signedWithForeignKey(kid: string): string {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const input = `${b64({ typ: "JWT", alg: "RS256", kid })}.${b64(claims())}`;
  return `${input}.${sign("sha256", Buffer.from(input), privateKey).toString("base64url")}`;
}

function flipLastCharacterBeforeEnd(segment: string): string {
  // Not the very last character: its low bits may be padding that decodes to the same bytes.
  const i = Math.floor(segment.length / 2);
  return `${segment.slice(0, i)}${segment[i] === "A" ? "B" : "A"}${segment.slice(i + 1)}`;
}

interface Row {
  name: string;
  /** Builds the request: raw header lines, path (with query) and the token(s) it carries. */
  request: () =>
    | Promise<{ headers: Array<[string, string]>; path?: string; presented: string[] }>
    | { headers: Array<[string, string]>; path?: string; presented: string[] };
  status: 401 | 403 | 404;
}

const bearer = (token: string) => ({ headers: [["authorization", `Bearer ${token}`]] as Array<[string, string]>, presented: [token] });

const ROWS: Row[] = [
  { name: "no Authorization header", status: 401, request: () => ({ headers: [], presented: [] }) },
  { name: "empty Authorization header", status: 401, request: () => ({ headers: [["authorization", ""]], presented: [] }) },
  { name: "Bearer without a token", status: 401, request: () => ({ headers: [["authorization", "Bearer"]], presented: [] }) },
  {
    name: "valid token under the Basic scheme",
    status: 401,
    request: () => {
      const t = valid();
      return { headers: [["authorization", `Basic ${t}`]], presented: [t] };
    },
  },
  {
    name: "valid token without a scheme",
    status: 401,
    request: () => {
      const t = valid();
      return { headers: [["authorization", t]], presented: [t] };
    },
  },
  { name: "alg none, empty signature", status: 401, request: () => bearer(`${b64({ typ: "JWT", alg: "none" })}.${b64(claims())}.`) },
  {
    name: "alg none with a signature segment",
    status: 401,
    request: () => bearer(`${b64({ typ: "JWT", alg: "none", kid: world.entra.currentKid })}.${b64(claims())}.${"A".repeat(43)}`),
  },
  {
    name: "HS256 keyed with the tenant's public key",
    status: 401,
    request: async () => bearer(await hs256WithPublicKey(world.entra, claims())),
  },
  { name: "RS512 instead of RS256 (header only)", status: 401, request: () => bearer(valid({ _header: { alg: "RS512" } })) },
  {
    name: "kid that is not in the key set (signed with the real key)",
    status: 401,
    request: () => bearer(valid({ _header: { kid: "not-a-published-kid" } })),
  },
  { name: "no kid", status: 401, request: () => bearer(valid({ _header: { kid: null } })) },
  { name: "signed by an unknown key under an unknown kid", status: 401, request: () => bearer(signedWithForeignKey("attacker-key-1")) },
  {
    name: "signed by an unknown key under the tenant's real kid",
    status: 401,
    request: () => bearer(signedWithForeignKey(world.entra.currentKid)),
  },
  { name: "crit header parameter", status: 401, request: () => bearer(valid({ _header: { crit: ["b64"], b64: false } })) },
  {
    name: "tampered payload (roles added, signature kept)",
    status: 401,
    request: () => {
      const [h, , s] = segments(world.entra.mintToken({ roles: [] }));
      return bearer(`${h}.${b64(claims({ roles: [world.roleOf(PROFILE)] }))}.${s}`);
    },
  },
  {
    name: "tampered signature",
    status: 401,
    request: () => {
      const [h, p, s] = segments(valid());
      return bearer(`${h}.${p}.${flipLastCharacterBeforeEnd(s)}`);
    },
  },
  {
    name: "expired an hour ago",
    status: 401,
    request: () => bearer(valid({ iat: nowSeconds() - 7200, nbf: nowSeconds() - 7200, exp: nowSeconds() - 3600 })),
  },
  {
    name: "not yet valid (nbf in an hour)",
    status: 401,
    request: () => bearer(valid({ nbf: nowSeconds() + 3600, exp: nowSeconds() + 7200 })),
  },
  {
    name: "lives longer than any Entra token (exp in 2 days)",
    status: 401,
    request: () => bearer(valid({ exp: nowSeconds() + 2 * 86_400 })),
  },
  { name: "wrong issuer", status: 401, request: () => bearer(valid({ iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` })) },
  { name: "wrong tenant (tid)", status: 401, request: () => bearer(valid({ tid: OTHER_TENANT })) },
  { name: "wrong audience", status: 401, request: () => bearer(valid({ aud: "api://some-other-api" })) },
  {
    name: "a Key Vault token (audience https://vault.azure.net)",
    status: 401,
    request: () => bearer(valid({ aud: "https://vault.azure.net" })),
  },
  { name: "no exp claim", status: 401, request: () => bearer(valid({ exp: null })) },
  { name: "no tid claim", status: 401, request: () => bearer(valid({ tid: null })) },
  {
    name: "a Maskinporten access token presented as a caller token",
    status: 401,
    request: async () => {
      const token = (await runtime.broker.serve(PROFILE)).accessToken;
      return bearer(token);
    },
  },
  {
    name: "oversize token (20 KiB)",
    status: 401,
    request: () => bearer(`${b64({ alg: "RS256", kid: world.entra.currentKid })}.${"A".repeat(20 * 1024)}.${"B".repeat(342)}`),
  },
  { name: "non-JWT garbage", status: 401, request: () => ({ headers: [["authorization", "Bearer !!not*a*token!!"]], presented: [] }) },
  {
    name: "JWE (five segments)",
    status: 401,
    request: () =>
      bearer(
        `${b64({ alg: "RSA-OAEP-256", enc: "A256GCM", kid: world.entra.currentKid })}.${"a".repeat(342)}.${"b".repeat(16)}.${"c".repeat(40)}.${"d".repeat(22)}`,
      ),
  },
  {
    name: "two tokens in one header",
    status: 401,
    request: () => {
      const t = valid();
      return { headers: [["authorization", `Bearer ${t} Bearer ${t}`]], presented: [t] };
    },
  },
  {
    name: "duplicate Authorization headers (valid, then forged)",
    status: 401,
    request: () => {
      const t = valid();
      const forged = `${b64({ typ: "JWT", alg: "none" })}.${b64(claims())}.`;
      return {
        headers: [
          ["authorization", `Bearer ${t}`],
          ["authorization", `Bearer ${forged}`],
        ],
        presented: [t, forged],
      };
    },
  },
  {
    name: "duplicate Authorization headers (the same valid token twice)",
    status: 401,
    request: () => {
      const t = valid();
      return {
        headers: [
          ["authorization", `Bearer ${t}`],
          ["authorization", `Bearer ${t}`],
        ],
        presented: [t],
      };
    },
  },
  {
    name: "valid token in the query string only",
    status: 401,
    request: () => {
      const t = valid();
      return { headers: [], path: `/api/token/${PROFILE}?access_token=${t}`, presented: [t] };
    },
  },
  {
    name: "forged token for an unknown profile (401, not 404: no profile probing)",
    status: 401,
    request: () => ({ ...bearer(signedWithForeignKey("x")), path: "/api/token/no-such-profile" }),
  },
  { name: "delegated token with the role (scp)", status: 401, request: () => bearer(valid({ scp: "user_impersonation" })) },
  { name: "delegated token with the role (idtyp user)", status: 401, request: () => bearer(valid({ idtyp: "user" })) },
  {
    name: "v1.0 token with the role (sts issuer, appid)",
    status: 401,
    request: () =>
      bearer(valid({ iss: `${world.entra.authorityHost}/${world.entra.tenantId}/`, ver: "1.0", azp: null, appid: "v1-client" })),
  },
  { name: "valid token without roles", status: 403, request: () => bearer(world.entra.mintToken({})) },
  { name: "valid token with an empty roles list", status: 403, request: () => bearer(world.entra.mintToken({ roles: [] })) },
  {
    name: "valid token with the role of another profile",
    status: 403,
    request: () => bearer(world.entra.mintToken({ roles: [world.roleOf(OTHER_PROFILE)] })),
  },
  {
    name: "valid token with a role differing only in case",
    status: 403,
    request: () => bearer(world.entra.mintToken({ roles: [world.roleOf(PROFILE).toUpperCase()] })),
  },
  { name: "valid token for an unknown profile", status: 404, request: () => ({ ...bearer(valid()), path: "/api/token/no-such-profile" }) },
];

function expectNoTokenIn(response: RawResponse, presented: string[]): void {
  const text = `${JSON.stringify(response.headers)}\n${response.body}`;
  for (const token of presented) {
    expect(text.includes(token), "the presented token is echoed").toBe(false);
    const signature = token.split(".")[2];
    if (signature && signature.length > 16) expect(text.includes(signature), "the presented signature is echoed").toBe(false);
  }
  for (const issued of world.maskinporten.issuedTokens) {
    expect(text.includes(issued.access_token), "a Maskinporten token is in a refusal").toBe(false);
  }
  const body = JSON.parse(response.body) as Record<string, unknown>;
  expect(body).not.toHaveProperty("access_token");
  expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
}

describe("hostile callers through the token function", () => {
  it("control: a valid caller with the profile's role gets the token (the harness can tell success from refusal)", async () => {
    const response = await host.get(`/api/token/${PROFILE}`, bearer(valid()).headers);
    expect(response.status).toBe(200);
    const token = (JSON.parse(response.body) as { access_token: string }).access_token;
    expect(world.maskinporten.verifyAccessToken(token)).toBeDefined();
  });

  it(`has at least 25 hostile rows (${ROWS.length})`, () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(25);
  });

  it.each(ROWS)("$name → $status", async (row) => {
    const { headers, path, presented } = await row.request();
    log.clear();
    const response = await host.get(path ?? `/api/token/${PROFILE}`, headers);
    expect(response.status, response.body).toBe(row.status);
    const challenge = response.headers["www-authenticate"];
    if (row.status === 401) expect(challenge).toBe(INVALID_TOKEN);
    if (row.status === 403) expect(challenge).toBe(INSUFFICIENT_SCOPE);
    if (row.status === 404) expect(challenge).toBeUndefined();
    expect(response.headers["cache-control"]).toBe("no-store");
    expectNoTokenIn(response, presented);
    // One audit line, the refusal, and it names no token either.
    const audit = log.find("token-request");
    expect(audit).toEqual([expect.objectContaining({ status: row.status, outcome: "refused" })]);
    for (const token of presented) expect(JSON.stringify(audit).includes(token)).toBe(false);
  });
});

describe("what an anonymous caller's path can cost", () => {
  it("a 15 KB path of eyJ…: 401, the audit line gives only the length of a malformed profile name", async () => {
    const hostile = "eyJ".repeat(5_000);
    log.clear();
    const response = await host.get(`/api/token/${hostile}`, []);
    expect(response.status).toBe(401);
    const [audit] = log.find("token-request");
    expect(audit).toMatchObject({ status: 401, requestedProfile: null, requestedProfileMalformedLength: hostile.length });
    expect(JSON.stringify(audit)).not.toContain("eyJeyJ");
  });

  it("a well-formed profile name is logged as given, before authentication too", async () => {
    log.clear();
    expect((await host.get("/api/token/no-such-profile", [])).status).toBe(401);
    expect(log.find("token-request")).toEqual([expect.objectContaining({ requestedProfile: "no-such-profile" })]);
  });
});

describe("only application tokens, v2.0, are callers", () => {
  it.each([
    ["scp", { scp: "user_impersonation" }, "delegated_token"],
    ["idtyp user", { idtyp: "user" }, "delegated_token"],
    ["ver 1.0", { ver: "1.0" }, "unsupported_token_version"],
  ])("a token with the role but %s: 401 invalid_token, the audit line says why", async (_name, extra, reason) => {
    log.clear();
    const response = await host.get(`/api/token/${PROFILE}`, bearer(valid(extra)).headers);
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toBe(INVALID_TOKEN);
    expect(log.find("token-request")).toEqual([expect.objectContaining({ status: 401, outcome: "refused", reason })]);
  });
});
