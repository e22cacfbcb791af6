/** Process entry of `maskinporten-token` (bin/maskinporten-token.js imports the built copy). */
import { runCli } from "./run.js";

const argv = process.argv.slice(2);
const environment = {
  stdout: (text: string) => process.stdout.write(text),
  stderr: (text: string) => process.stderr.write(text),
  cwd: process.cwd(),
};
// `certificate …` (CSR onboarding) loads its own module only when asked for.
const exitCode =
  argv[0] === "certificate"
    ? await (await import("./certificate-command.js")).runCertificateCommand(argv.slice(1), environment)
    : await runCli(argv, environment);
// exitCode, not exit(): let stdout drain when it is a pipe.
process.exitCode = exitCode;
