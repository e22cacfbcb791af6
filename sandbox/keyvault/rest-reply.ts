/** A route's answer when it is not a plain 200 (create answers 202 with Location, merge 201). */
export class RestReply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}
