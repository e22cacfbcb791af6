/** Process entry of `maskinporten-token` (bin/maskinporten-token.js imports the built copy). */
import { runCli } from "./run.js";

const io = {
  stdout: (text: string) => void process.stdout.write(text),
  stderr: (text: string) => void process.stderr.write(text),
  cwd: process.cwd(),
};
const argv = process.argv.slice(2);
// `keys list|sync`: key registration (src/cli/keys.ts), loaded only when asked for.
const exitCode = argv[0] === "keys" ? await (await import("./keys.js")).runKeysCli(argv.slice(1), io) : await runCli(argv, io);
// exitCode, not exit(): let stdout drain when it is a pipe.
process.exitCode = exitCode;
