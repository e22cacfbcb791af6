/** Process entry of `maskinporten-token` (bin/maskinporten-token.js imports the built copy). */
import { runCli } from "./run.js";

const exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  cwd: process.cwd(),
});
// exitCode, not exit(): let stdout drain when it is a pipe.
process.exitCode = exitCode;
