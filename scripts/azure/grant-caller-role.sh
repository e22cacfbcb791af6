#!/usr/bin/env bash
# Gives a caller (a managed identity or an app's service principal) the app role of one token
# profile on the broker's Entra app, so it may GET /api/token/<profile>. The same as listing the
# caller under callerPrincipalIds in infra/profiles.json, for callers you do not want in the repo.
#
#   scripts/azure/grant-caller-role.sh <profile> <caller-object-id> [--role <role>] [--app-id <broker app id>]
#
#   <caller-object-id>  the caller's service principal object id; for a managed identity its
#                       principalId, e.g.  az identity show -n <name> -g <rg> --query principalId -o tsv
#                       or (system-assigned)  az functionapp identity show -n <app> -g <rg> --query principalId -o tsv
#   --role              app role value; default Token.<profile> (set PROFILE_<NAME>_ROLE to change it)
#   --app-id            the broker's app (client) id; default: BROKER_APP_ID of the azd environment
#
# Needs: az, logged in as an owner of the broker's app registration or with the Entra roles to
# assign app roles (Application Administrator / Cloud Application Administrator).
# Managed identities cache their tokens for up to 24 hours: a new role can take that long to show
# up in the caller's token unless it restarts.
set -euo pipefail

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 2 ]] || usage
profile="$1"
caller="$2"
shift 2
role="Token.$profile"
app_id=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --role) role="${2:?--role needs a value}"; shift 2 ;;
    --app-id) app_id="${2:?--app-id needs a value}"; shift 2 ;;
    *) usage ;;
  esac
done
if [[ -z "$app_id" ]] && command -v azd >/dev/null 2>&1; then
  app_id="$(azd env get-value BROKER_APP_ID 2>/dev/null || true)"
fi
[[ -n "$app_id" ]] || { echo "grant-caller-role: no broker app id; pass --app-id or run inside the azd project after azd provision" >&2; exit 2; }

broker_sp="$(az ad sp show --id "$app_id" --query id --output tsv)"
role_id="$(az ad sp show --id "$app_id" --query "appRoles[?value=='$role' && isEnabled].id | [0]" --output tsv)"
[[ -n "$role_id" && "$role_id" != "None" ]] || { echo "grant-caller-role: the broker app has no enabled app role '$role' (profiles: see infra/profiles.json)" >&2; exit 1; }

existing="$(az rest --method GET \
  --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$broker_sp/appRoleAssignedTo?\$top=999" \
  --query "value[?principalId=='$caller' && appRoleId=='$role_id'].id | [0]" --output tsv)"
if [[ -n "$existing" && "$existing" != "None" ]]; then
  echo "Caller $caller already holds $role." >&2
  exit 0
fi

az rest --method POST \
  --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$broker_sp/appRoleAssignedTo" \
  --headers "Content-Type=application/json" \
  --body "{\"principalId\":\"$caller\",\"resourceId\":\"$broker_sp\",\"appRoleId\":\"$role_id\"}" \
  --query "{caller: principalDisplayName, role: appRoleId, created: createdDateTime}" --output json
echo "Caller $caller now holds $role on the broker ($app_id)." >&2
