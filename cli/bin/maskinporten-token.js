#!/usr/bin/env node
// The bundled CLI (built by scripts/build-cli.mjs on `npm pack`); it has no runtime dependencies.
import "../dist/maskinporten-token.js";
