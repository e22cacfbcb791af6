/**
 * Child-process entry for the cold-start figure: imports the given modules in a fresh process, as
 * the Functions worker does with an app's entry, and prints how long that took and when the
 * process was ready (both in ms; the latter counts from process start, Node's own boot included).
 */
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";

const start = performance.now();
for (const path of process.argv.slice(2)) await import(pathToFileURL(path).href);
const end = performance.now();
process.stdout.write(JSON.stringify({ importMs: end - start, readyMs: end }) + "\n");
