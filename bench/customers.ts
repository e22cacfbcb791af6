/**
 * Repeat callers of a customer's token (GET /api/token/supplier?customer=…) against repeat callers
 * of a profile's own token (GET /api/token/skatt), through the same sandbox and handler, in
 * alternating rounds of the same run. The ratio says what the per-customer path costs on top.
 */
import { startSandbox } from "../sandbox/sandbox.js";
import { inAlternatingOrder } from "./layers.js";
import { countingLogger } from "./counting-logger.js";
import { runLoad, type MeasuredLoad } from "./load.js";
import { fixed, ms, perSecond, verdict, type Row } from "./report.js";

export interface CustomerBenchSettings {
  connections: number;
  rounds: number;
  seconds: number;
  identities: number;
}

export interface CustomerFigures {
  settings: CustomerBenchSettings;
  customer: MeasuredLoad;
  profile: MeasuredLoad;
  /** customer ÷ profile throughput, median round. */
  ratio: number;
  ratios: number[];
  /** Maskinporten token requests during the measured runs (should be 0: all from the cache). */
  maskinportenTokenRequests: number;
}

export const CUSTOMER_TARGET = 0.8;

export async function benchCustomerTokens(settings: CustomerBenchSettings, progress: (line: string) => void): Promise<CustomerFigures> {
  const sandbox = await startSandbox({ port: 0, logger: countingLogger(), tokenLifetimeSeconds: 3600 });
  try {
    const { env } = sandbox;
    const supplier = env.profiles.find((p) => p.name === "supplier")!;
    const customers = supplier.customers!.map((c) => c.customer);
    const callers = Array.from(
      { length: settings.identities },
      (_, i) =>
        `Bearer ${sandbox.entra.mintToken({ roles: env.profiles.map((p) => p.role), azp: `00000000-0000-4000-8000-4${String(i).padStart(11, "0")}`, uti: `customer-bench-${i}` })}`,
    );
    // Several customers, one URL each round-robin is not possible with one URL: use the first, and
    // warm every customer once so the cache holds more than one key.
    for (const customer of customers) {
      const response = await fetch(`${env.brokerUrl}/api/token/supplier?customer=${customer}`, { headers: { authorization: callers[0]! } });
      if (response.status !== 200) throw new Error(`customer bench: warm-up got ${response.status}`);
    }
    const customerUrl = `${env.brokerUrl}/api/token/supplier?customer=${customers[0]}`;
    const profileUrl = `${env.brokerUrl}/api/token/${env.profiles[0]!.name}`;
    const load = (url: string) =>
      runLoad({ url, connections: settings.connections, authorizations: callers, durationSeconds: settings.seconds });
    const clean = (name: string, result: MeasuredLoad) => {
      if (result.errors > 0 || result.non2xx > 0) throw new Error(`${name}: ${result.errors} errors, ${result.non2xx} non-2xx`);
      return result;
    };
    progress("customer tokens: warm-up");
    await load(profileUrl);
    await load(customerUrl);
    const before = sandbox.maskinporten.counters.tokenRequests;
    const rounds: { customer: MeasuredLoad; profile: MeasuredLoad; ratio: number }[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      progress(`customer tokens: round ${round + 1}/${settings.rounds}`);
      // Forwards and backwards in turn (see inAlternatingOrder in layers.ts).
      const [first, second] = inAlternatingOrder([profileUrl, customerUrl], round);
      const firstRun = await load(first!);
      const secondRun = await load(second!);
      const profile = clean("profile", first === profileUrl ? firstRun : secondRun);
      const customer = clean("customer", first === profileUrl ? secondRun : firstRun);
      rounds.push({ customer, profile, ratio: customer.requestsPerSecond / profile.requestsPerSecond });
    }
    const sorted = [...rounds].sort((a, b) => a.ratio - b.ratio);
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
    return {
      settings,
      customer: median.customer,
      profile: median.profile,
      ratio: median.ratio,
      ratios: rounds.map((r) => r.ratio),
      maskinportenTokenRequests: sandbox.maskinporten.counters.tokenRequests - before,
    };
  } finally {
    await sandbox.close();
  }
}

export function customerRows(figures: CustomerFigures): Row[] {
  const section = "7 customer tokens";
  return [
    {
      section,
      figure: `repeat callers (${figures.settings.identities} identities) of a customer token: throughput`,
      value: perSecond(figures.customer.requestsPerSecond),
      baseline: `${perSecond(figures.profile.requestsPerSecond)} (profile token)`,
      ratio: fixed(figures.ratio),
      target: `>= ${fixed(CUSTOMER_TARGET)}`,
      verdict: verdict(figures.ratio >= CUSTOMER_TARGET),
    },
    {
      section,
      figure: "repeat callers of a customer token: p50 / p99",
      value: `${ms(figures.customer.p50Ms)} / ${ms(figures.customer.p99Ms)}`,
      baseline: `${ms(figures.profile.p50Ms)} / ${ms(figures.profile.p99Ms)}`,
      ratio: `rounds ${figures.ratios.map((r) => fixed(r)).join(" ")}`,
      target: "",
      verdict: "",
    },
    {
      section,
      figure: "Maskinporten token requests while serving",
      value: String(figures.maskinportenTokenRequests),
      baseline: "",
      ratio: "",
      target: "0",
      verdict: verdict(figures.maskinportenTokenRequests === 0),
    },
  ];
}

// `node dist/bench/customers.js`: this comparison alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await benchCustomerTokens({ connections: 16, rounds: 3, seconds: 3, identities: 4 }, (line) =>
    process.stderr.write(`${line}\n`),
  );
  const { formatTable } = await import("./report.js");
  process.stdout.write(`${formatTable(customerRows(figures))}\n`);
}
