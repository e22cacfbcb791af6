/**
 * How settings are read: one reader per parse collects every problem, each naming the setting and
 * what it expects (never its value), so all are reported together in one ConfigError.
 */
import { BrokerError, ErrorCode } from "../errors.js";

export type Settings = Readonly<Record<string, string | undefined>>;

export interface ConfigProblem {
  setting: string;
  message: string;
}

export class ConfigError extends BrokerError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(
      ErrorCode.Config,
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.setting}: ${p.message}`).join("\n"),
    );
    this.problems = problems;
  }
}

/** Space- or comma-separated list, empty entries dropped. */
export function splitList(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export class Reader {
  readonly problems: ConfigProblem[] = [];
  constructor(private readonly settings: Settings) {}

  optional(name: string): string | undefined {
    const value = this.settings[name]?.trim();
    return value ? value : undefined;
  }

  required(name: string, expected: string): string | undefined {
    const value = this.optional(name);
    if (value === undefined) this.problem(name, `missing; expected ${expected}`);
    return value;
  }

  problem(setting: string, message: string): void {
    this.problems.push({ setting, message });
  }

  matching(name: string, pattern: RegExp, expected: string, value = this.optional(name)): string | undefined {
    if (value === undefined) return undefined;
    if (!pattern.test(value)) {
      this.problem(name, `is not valid; expected ${expected}`);
      return undefined;
    }
    return value;
  }
}
