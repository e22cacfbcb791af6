/** Process entry of `maskinporten-token` (bin/maskinporten-token.js imports the built copy). */
import { runCli } from "./run.js";

const argv = process.argv.slice(2);
const environment = {
  stdout: (text: string) => void process.stdout.write(text),
  stderr: (text: string) => void process.stderr.write(text),
  cwd: process.cwd(),
};
// Subcommands load their own modules only when asked for: `certificate …` (CSR onboarding,
// src/cli/certificate-command.ts) and `keys list|sync` (key registration, src/cli/keys.ts).
const exitCode =
  argv[0] === "certificate"
    ? await (await import("./certificate-command.js")).runCertificateCommand(argv.slice(1), environment)
    : argv[0] === "keys"
      ? await (await import("./keys.js")).runKeysCli(argv.slice(1), environment)
      : await runCli(argv, environment);
// exitCode, not exit(): let stdout drain when it is a pipe.
process.exitCode = exitCode;
