#!/usr/bin/env bash
# Installs the Bicep CLI that `npm test` compiles and lints infra/ with (test/infra/bicep-compile.test.ts).
#
# The CLI is a self-contained binary in the NuGet package Azure.Bicep.CommandLine.linux-x64 (not a
# dotnet tool). `dotnet restore` of a download-only project puts the package in NuGet's global
# packages folder (~/.nuget/packages, shared by every clone on the machine, so a fresh clone restores
# from there without the network), and .cache/bicep/bicep links to the binary: the test finds it there.
# Nothing is restored when the pinned version is already linked.
#
# Usage: scripts/install-bicep.sh            (BICEP_VERSION=<x.y.z> to try another version)
set -euo pipefail
cd "$(dirname "$0")/.."

version="${BICEP_VERSION:-0.49.2}"
cache=".cache/bicep"
link="$cache/bicep"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "install-bicep: this script installs the linux-x64 Bicep CLI; on $(uname -s)-$(uname -m) install Bicep" >&2
  echo "  yourself (az bicep install, or learn.microsoft.com/azure/azure-resource-manager/bicep/install) and set BICEP_CLI=<path>." >&2
  exit 1
fi

if [ -n "${BICEP_CLI:-}" ] && [ -x "$BICEP_CLI" ]; then
  echo "install-bicep: using BICEP_CLI=$BICEP_CLI ($("$BICEP_CLI" --version))"
  exit 0
fi

if [ -x "$link" ] && [ "$(cat "$cache/version" 2>/dev/null)" = "$version" ]; then
  echo "install-bicep: Bicep CLI $version already linked at $link"
  exit 0
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "install-bicep: 'dotnet' (the .NET SDK) restores the Bicep CLI from NuGet, and it is not on PATH." >&2
  echo "  Install the .NET SDK (https://dot.net), or install Bicep another way and set BICEP_CLI=<path to bicep>." >&2
  exit 1
fi

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Download only: PackageDownload fetches the package without resolving it for a build.
mkdir -p "$cache/restore"
cat > "$cache/restore/bicep-restore.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net$(dotnet --version | cut -d. -f1-2)</TargetFramework>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="Azure.Bicep.CommandLine.linux-x64" Version="[$version]" />
  </ItemGroup>
</Project>
XML
echo "install-bicep: restoring Azure.Bicep.CommandLine.linux-x64 $version with dotnet"
dotnet restore "$cache/restore/bicep-restore.csproj" --nologo -v quiet

packages="$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')"
package_dir="${packages%/}/azure.bicep.commandline.linux-x64/$version"
binary="$package_dir/tools/bicep"
if [ ! -f "$binary" ]; then
  binary="$(find "$package_dir" -type f -name bicep 2>/dev/null | head -n 1)"
fi
if [ -z "$binary" ] || [ ! -f "$binary" ]; then
  echo "install-bicep: restore finished but no 'bicep' binary is under $package_dir" >&2
  exit 1
fi
chmod +x "$binary"
ln -sfn "$binary" "$link"
echo "$version" > "$cache/version"
"$link" --version
