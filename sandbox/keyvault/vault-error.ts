/**
 * Key Vault's error responses: `{"error":{"code","message","innererror"?}}` with the status the
 * real service uses, so the SDK surfaces them as `RestError` with the same `statusCode`/`code`.
 */
export class VaultError extends Error {
  readonly status: number;
  readonly code: string;
  readonly innerCode: string | undefined;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, options: { innerCode?: string; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = "VaultError";
    this.status = status;
    this.code = code;
    this.innerCode = options.innerCode;
    this.headers = options.headers ?? {};
  }

  toBody(): { error: { code: string; message: string; innererror?: { code: string } } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.innerCode ? { innererror: { code: this.innerCode } } : {}),
      },
    };
  }
}

const RECOVER_HINT =
  "If you recently deleted this {kind} you may be able to recover it using the correct recovery command. " +
  "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182";

export function notFound(kind: "secret" | "key" | "certificate", nameOrId: string): VaultError {
  const code = kind === "secret" ? "SecretNotFound" : kind === "key" ? "KeyNotFound" : "CertificateNotFound";
  return new VaultError(
    404,
    code,
    `A ${kind} with (name/id) ${nameOrId} was not found in this key vault. ${RECOVER_HINT.replace("{kind}", kind)}`,
  );
}

export function badParameter(message: string): VaultError {
  return new VaultError(400, "BadParameter", message);
}

/** Real KV's wording: "Operation get is not allowed on a disabled secret." + innererror SecretDisabled. */
export function operationNotAllowed(
  operation: string,
  state: "disabled" | "expired" | "not yet valid",
  kind: "secret" | "key",
): VaultError {
  const stateCode = state === "disabled" ? "Disabled" : state === "expired" ? "Expired" : "NotYetValid";
  const article = state === "expired" ? "an" : "a";
  return new VaultError(403, "Forbidden", `Operation ${operation} is not allowed on ${article} ${state} ${kind}.`, {
    innerCode: `${kind === "secret" ? "Secret" : "Key"}${stateCode}`,
  });
}
