#!/usr/bin/env bash
# Puts the pinned Lowkey Vault jar (an independent Key Vault emulator, used by test/lowkey/) in
# .cache/lowkey-vault/ and prints its absolute path on stdout. Idempotent and quiet: once the jar is
# cached nothing is fetched again.
#
#   LOWKEY_VAULT_JAR=/path/app.jar   use this jar as it is (nothing is fetched)
#   LOWKEY_VAULT_VERSION=x.y.z       another version than the pinned one
#   LOWKEY_VAULT_REFETCH=1           ask the registry again after it said "not found"
#
# Exit codes: 0 jar path printed; 2 no mvn; 3 the registry does not serve the artifact (final, not
# retried until LOWKEY_VAULT_REFETCH=1); 1 any other failure (network, disk).
set -euo pipefail

# 3.x is the newest line whose app runs on Java 17: upstream moved the app to Java 21 in Aug 2025
# (4.0.0) and later to Java 25.
readonly PINNED_VERSION="3.4.33"
readonly GROUP="com.github.nagyesta.lowkey-vault"
readonly ARTIFACT="lowkey-vault-app"
readonly DEPENDENCY_PLUGIN="3.8.1"

version="${LOWKEY_VAULT_VERSION:-$PINNED_VERSION}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="$repo_root/.cache/lowkey-vault"
jar="$cache_dir/$ARTIFACT-$version.jar"
not_found_marker="$cache_dir/$ARTIFACT-$version.not-found"

if [[ -n "${LOWKEY_VAULT_JAR:-}" ]]; then
  if [[ -f "$LOWKEY_VAULT_JAR" ]]; then
    realpath "$LOWKEY_VAULT_JAR"
    exit 0
  fi
  echo "lowkey-vault: LOWKEY_VAULT_JAR=$LOWKEY_VAULT_JAR is not a file" >&2
  exit 1
fi

if [[ -s "$jar" ]]; then
  echo "$jar"
  exit 0
fi

# A registry's "not found" is final: remember it instead of asking again on every test run.
if [[ -f "$not_found_marker" && "${LOWKEY_VAULT_REFETCH:-}" != "1" ]]; then
  echo "lowkey-vault: $GROUP:$ARTIFACT:$version is not served by the Maven registry (checked $(cat "$not_found_marker")); set LOWKEY_VAULT_JAR to a jar, or LOWKEY_VAULT_REFETCH=1 to ask again" >&2
  exit 3
fi

if ! command -v mvn >/dev/null 2>&1; then
  echo "lowkey-vault: mvn is not installed (Debian package: maven); cannot fetch $GROUP:$ARTIFACT:$version" >&2
  exit 2
fi

mkdir -p "$cache_dir"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# -U: Maven caches a "not found" in ~/.m2 too; a refetch must get past that cache.
force_update=()
[[ "${LOWKEY_VAULT_REFETCH:-}" == "1" ]] && force_update=(-U)
# The plugin version is pinned because copy with -Dartifact needs 3.x and runs without a pom.
if mvn -B -q -Dstyle.color=never "${force_update[@]}" "org.apache.maven.plugins:maven-dependency-plugin:$DEPENDENCY_PLUGIN:copy" \
  -Dartifact="$GROUP:$ARTIFACT:$version:jar" -DoutputDirectory="$cache_dir" >"$log" 2>&1; then
  if [[ ! -s "$jar" ]]; then
    echo "lowkey-vault: mvn reported success but $jar is missing" >&2
    exit 1
  fi
  rm -f "$not_found_marker"
  echo "$jar"
  exit 0
fi

if grep -qE "Could not find artifact|Could not find metadata|was not found in" "$log"; then
  date -u +%Y-%m-%dT%H:%M:%SZ >"$not_found_marker"
  echo "lowkey-vault: the Maven registry does not serve $GROUP:$ARTIFACT:$version; set LOWKEY_VAULT_JAR to a jar" >&2
  exit 3
fi

echo "lowkey-vault: fetching $GROUP:$ARTIFACT:$version with mvn failed:" >&2
grep -E "ERROR" "$log" | head -n 5 >&2 || tail -n 5 "$log" >&2
exit 1
