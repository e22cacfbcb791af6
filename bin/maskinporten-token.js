#!/usr/bin/env node
// Runs the compiled CLI; `npm install` (prepare → tsc) builds dist/.
import "../dist/src/cli/main.js";
