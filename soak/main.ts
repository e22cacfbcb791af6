/**
 * `npm run soak`: the simulated day. Prints the report and exits 1 when an invariant broke.
 *   --seed N      repeat a run (default: random, printed)
 *   --hours H     simulated hours (default 24)
 *   --interval S  seconds between one profile's caller requests (default 10)
 *   --json FILE   also write the report as JSON
 *   --broker-min-serve S   misconfigure the broker to refuse tokens with less than S seconds left
 *                 (the checks keep 15 s): shows the run failing, exit code 1
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { newSeed } from "./harness/prng.js";
import { formatReport } from "./report.js";
import { runSoak } from "./simulation.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    hours: { type: "string", default: "24" },
    interval: { type: "string", default: "10" },
    json: { type: "string" },
    "broker-min-serve": { type: "string" },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : process.env.SOAK_SEED ? Number(process.env.SOAK_SEED) : newSeed();
const hours = Number(values.hours);
const interval = Number(values.interval);
if (!Number.isInteger(seed) || !(hours > 0) || !(interval > 0)) {
  process.stderr.write("usage: npm run soak -- [--seed N] [--hours H] [--interval S] [--json FILE] [--broker-min-serve S]\n");
  process.exit(2);
}

process.stderr.write(`soak: seed ${seed}, ${hours} h simulated\n`);
const report = await runSoak({
  seed,
  durationMs: hours * 3_600_000,
  requestIntervalMs: interval * 1000,
  onProgress: (fraction) => process.stderr.write(`soak: ${Math.round(fraction * 100)} %\r`),
  ...(values["broker-min-serve"] !== undefined ? { brokerMinServeRemainingMs: Number(values["broker-min-serve"]) * 1000 } : {}),
});
process.stderr.write("\n");
process.stdout.write(`${formatReport(report)}\n`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
process.exitCode = report.violations.length === 0 ? 0 : 1;
