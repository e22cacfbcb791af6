/**
 * CPU profiles of this process (the servers under test) while a load runs, written as
 * .cpuprofile files (open them in Chrome DevTools or VS Code). Same profiler as `node --cpu-prof`,
 * limited to the run in question so the stand-ins' start-up and the other runs stay out of it.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";

export async function profiled<T>(directory: string, name: string, work: () => Promise<T>): Promise<T> {
  const session = new Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
    const result = await work();
    const { profile } = await session.post("Profiler.stop");
    mkdirSync(directory, { recursive: true });
    writeFileSync(join(directory, `${name}.cpuprofile`), JSON.stringify(profile));
    return result;
  } finally {
    session.disconnect();
  }
}
