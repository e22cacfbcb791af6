#!/usr/bin/env bash
# Lets one workload read one profile's token straight from Key Vault: Key Vault Secrets User on
# that profile's secret only (not the vault). The same as listing it under readerPrincipalIds in
# infra/profiles.json, for readers you do not want in the repo.
#
#   scripts/azure/grant-secret-reader.sh <profile> <reader-object-id> [--secret <name>] [--vault <name>] [--type <ServicePrincipal|User|Group>]
#
#   --secret  the profile's secret; default maskinporten-<profile> (PROFILE_<NAME>_SECRET_NAME changes it)
#   --vault   default: AZURE_KEY_VAULT_NAME of the azd environment
#   --type    principal type of the reader; default ServicePrincipal (managed identities too)
#
# Needs: az, logged in with rights to assign roles on the vault (Owner, User Access Administrator
# or Role Based Access Control Administrator on the resource group).
# Readers should read the latest version and refresh before `expires` (the token's expiry), never
# cache it in an app setting: Key Vault references are cached for up to a day.
set -euo pipefail

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 2 ]] || usage
profile="$1"
reader="$2"
shift 2
secret="maskinporten-$profile"
vault=""
type="ServicePrincipal"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --secret) secret="${2:?--secret needs a value}"; shift 2 ;;
    --vault) vault="${2:?--vault needs a value}"; shift 2 ;;
    --type) type="${2:?--type needs a value}"; shift 2 ;;
    *) usage ;;
  esac
done
if [[ -z "$vault" ]] && command -v azd >/dev/null 2>&1; then
  vault="$(azd env get-value AZURE_KEY_VAULT_NAME 2>/dev/null || true)"
fi
[[ -n "$vault" ]] || { echo "grant-secret-reader: no vault; pass --vault or run inside the azd project after azd provision" >&2; exit 2; }

vault_id="$(az keyvault show --name "$vault" --query id --output tsv)"
az role assignment create \
  --role "Key Vault Secrets User" \
  --assignee-object-id "$reader" \
  --assignee-principal-type "$type" \
  --scope "$vault_id/secrets/$secret" \
  --query "{roleDefinitionId: roleDefinitionId, scope: scope, principalId: principalId}" --output json
