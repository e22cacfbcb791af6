import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BrokerError } from "../../src/errors.js";
import { parseJavaProperties } from "../../src/cli/properties.js";

/** The tricky cases of java.util.Properties.load; expected values were taken from a JDK 17 run. */
const TRICKY = [
  "# comment",
  "! bang comment",
  "   # indented comment",
  "issuer = abc   ",
  "audience:https://x/",
  "scope   a:b c:d",
  "  keystore.password=pw with trailing  \\t",
  "key\\ with\\ spaces=v",
  "multi=first \\",
  "      second \\\\",
  "next=after",
  "odd=ends with backslash\\\\\\",
  "   continued",
  "unicode=\\u00e6\\u00f8\\u00e5",
  "esc=\\t\\n\\r\\f\\a\\b\\\\\\=\\:\\#",
  "empty=",
  "onlykey",
  "dup=1",
  "dup=2",
  "colonsep : val",
  "tabsep\tval2",
  "eqaftersp   =  val3",
  "=novalue",
  "sep=a=b",
  "\\#notcomment=x",
  "trail=x\\ ",
  "crlf=yes\r\ncr=yes\rlast=noeol\\",
].join("\n");

const EXPECTED: Record<string, string> = {
  "": "novalue",
  "#notcomment": "x",
  audience: "https://x/",
  colonsep: "val",
  cr: "yes",
  crlf: "yes",
  dup: "2",
  empty: "",
  eqaftersp: "val3",
  esc: "\t\n\r\fab\\=:#",
  issuer: "abc   ",
  "key with spaces": "v",
  "keystore.password": "pw with trailing  \t",
  last: "noeol",
  multi: "first second \\",
  next: "after",
  odd: "ends with backslash\\continued",
  onlykey: "",
  scope: "a:b c:d",
  sep: "a=b",
  tabsep: "val2",
  trail: "x ",
  unicode: "æøå",
};

describe("parseJavaProperties", () => {
  it("reads the tricky cases exactly as java.util.Properties does (trailing whitespace kept)", () => {
    expect(Object.fromEntries(parseJavaProperties(Buffer.from(TRICKY, "latin1")))).toEqual(EXPECTED);
  });

  it("reads ISO-8859-1 bytes as Java's load(InputStream) does", () => {
    expect(parseJavaProperties(Buffer.from([0x70, 0x3d, 0xe6, 0xf8, 0xe5])).get("p")).toBe("æøå");
  });

  it("reads a UTF-8 file (with or without BOM) as UTF-8", () => {
    expect(parseJavaProperties(Buffer.from("p=blåbær\n", "utf8")).get("p")).toBe("blåbær");
    expect(parseJavaProperties(Buffer.from("\ufeffissuer=x\n", "utf8")).get("issuer")).toBe("x");
  });

  it("refuses a malformed \\u escape, naming the line but not its text", () => {
    let caught: unknown;
    try {
      parseJavaProperties("issuer=x\nkeystore.password=se\\uZZcret\n", "client.properties");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(BrokerError);
    expect((caught as BrokerError).code).toBe("ERR_PROPERTIES");
    expect((caught as BrokerError).message).toBe("client.properties: malformed \\uXXXX escape on line 2 (Java rejects this file too)");
    expect(String((caught as BrokerError).cause)).not.toContain("cret");
  });
});

const hasJavac = spawnSync("javac", ["-version"], { stdio: "ignore" }).status === 0;

describe.skipIf(!hasJavac)("against a real JVM", () => {
  const dir = mkdtempSync(join(tmpdir(), "props-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("matches java.util.Properties.load byte for byte on the tricky file", () => {
    writeFileSync(
      join(dir, "Dump.java"),
      `import java.io.*; import java.util.*;
public class Dump { public static void main(String[] a) throws Exception {
  Properties p = new Properties(); p.load(new FileInputStream(a[0]));
  StringBuilder sb = new StringBuilder();
  for (String k : new TreeSet<>(p.stringPropertyNames())) sb.append(hex(k)).append(' ').append(hex(p.getProperty(k))).append('\\n');
  System.out.print(sb);
}
static String hex(String s) { StringBuilder b = new StringBuilder("x"); for (char c : s.toCharArray()) b.append(String.format("%04x", (int) c)); return b.toString(); } }
`,
    );
    writeFileSync(join(dir, "tricky.properties"), Buffer.from(TRICKY, "latin1"));
    execFileSync("javac", ["-d", dir, join(dir, "Dump.java")]);
    const java = execFileSync("java", ["-cp", dir, "Dump", join(dir, "tricky.properties")], { encoding: "utf8" });
    const hex = (value: string) => "x" + [...value].map((char) => char.charCodeAt(0).toString(16).padStart(4, "0")).join("");
    const ours = [...parseJavaProperties(Buffer.from(TRICKY, "latin1"))]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => `${hex(key)} ${hex(value)}\n`)
      .join("");
    expect(ours).toBe(java);
  }, 60_000);
});
