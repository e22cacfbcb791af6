#!/usr/bin/env bash
# Imports an enterprise certificate (virksomhetssertifikat, PKCS#12 / .p12 / .pfx) into the broker's
# Key Vault as a NON-exportable certificate: Key Vault signs with the private key, nobody can get it
# out again. Importing under an existing name adds a new version: that is how a renewed certificate
# goes in (the broker picks it up within an hour, see README.md "Operate").
#
#   scripts/azure/import-certificate.sh <file.p12> [--vault <name>] [--name <certificate>] [--hsm]
#
#   --vault  Key Vault name; default: AZURE_KEY_VAULT_NAME of the current azd environment
#   --name   certificate name; default: SIGNING_CERTIFICATE_NAME of the azd environment, else
#            maskinporten-signing
#   --hsm    keep the key in an HSM (RSA-HSM; needs KEY_VAULT_SKU=premium)
#
# The PKCS#12 password comes from PFX_PASSWORD or a prompt. It is never echoed and never put on a
# command line: az reads it from a private temporary file (az's @file argument syntax).
# Needs: az (logged in, with Key Vault Certificates Officer on the certificate; azd provision
# grants that to whoever ran it), and azd when --vault/--name are not given.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

file=""
vault=""
name=""
policy="$here/certificate-policy.json"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --vault) vault="${2:?--vault needs a value}"; shift 2 ;;
    --name) name="${2:?--name needs a value}"; shift 2 ;;
    --hsm) policy="$here/certificate-policy-hsm.json"; shift ;;
    -h|--help) usage ;;
    -*) echo "import-certificate: unknown option $1" >&2; usage ;;
    *) [[ -z "$file" ]] || usage; file="$1"; shift ;;
  esac
done
[[ -n "$file" ]] || usage
[[ -f "$file" ]] || { echo "import-certificate: $file is not a file" >&2; exit 2; }

azd_value() { command -v azd >/dev/null 2>&1 && azd env get-value "$1" 2>/dev/null || true; }
vault="${vault:-$(azd_value AZURE_KEY_VAULT_NAME)}"
name="${name:-$(azd_value SIGNING_CERTIFICATE_NAME)}"
name="${name:-maskinporten-signing}"
[[ -n "$vault" ]] || { echo "import-certificate: no vault; pass --vault or run inside the azd project after azd provision" >&2; exit 2; }

secret_dir="$(mktemp -d)"
trap 'rm -rf "$secret_dir"' EXIT
chmod 700 "$secret_dir"
password_file="$secret_dir/password"
if [[ -n "${PFX_PASSWORD+set}" ]]; then
  password="$PFX_PASSWORD"
else
  read -r -s -p "Password for $file: " password </dev/tty
  echo >&2
fi
(umask 077 && printf '%s' "$password" >"$password_file")
unset password

# Show what is about to go in, when openssl is at hand (it is optional).
if command -v openssl >/dev/null 2>&1; then
  if details="$(openssl pkcs12 -in "$file" -passin "file:$password_file" -nokeys -clcerts 2>/dev/null \
      | openssl x509 -noout -subject -enddate -nameopt RFC2253 2>/dev/null)"; then
    echo "Certificate in $file:" >&2
    echo "$details" | sed 's/^/  /' >&2
  else
    echo "import-certificate: openssl could not read $file with that password (legacy PKCS#12 needs 'openssl ... -legacy'); trying Key Vault anyway" >&2
  fi
fi

echo "Importing into Key Vault $vault as certificate $name (non-exportable)..." >&2
az keyvault certificate import \
  --vault-name "$vault" \
  --name "$name" \
  --file "$file" \
  --password "@$password_file" \
  --policy "@$policy" \
  --query "{certificate: id, key: kid, expires: attributes.expires, thumbprintSha1: x509ThumbprintHex}" \
  --output json

# Trust, but verify: a policy that lets the key out defeats the point of remote signing.
exportable="$(az keyvault certificate show --vault-name "$vault" --name "$name" --query "policy.keyProperties.exportable" --output tsv)"
if [[ "$exportable" != "false" ]]; then
  echo "import-certificate: WARNING: certificate $name reports exportable=$exportable; its private key can be downloaded. Re-import with this script's policy." >&2
  exit 1
fi

cat >&2 <<NEXT
Done: $name is in $vault and its private key cannot be exported.
Next:
  x5c (default): nothing to register if Maskinporten accepts your organisation's certificate for the
                 client; to lock the client to this certificate, paste its PEM under "Virksomhetssertifikat":
                   az keyvault certificate download --vault-name $vault --name $name --encoding PEM --file $name.pem
  kid:           export the public key and register it on the client:
                   npx node scripts/azure/export-public-jwk.ts --vault $vault --certificate $name
NEXT
