/**
 * A minimal DER reader: just enough ASN.1 to read a PKCS#10 request, a certificate's extensions
 * and a PKCS#7 certificate bag. node:crypto parses certificates but neither CSRs nor PKCS#7, and
 * the pieces needed here are small enough not to pull in an ASN.1 library on the CLI path.
 */
export interface DerNode {
  /** The identifier octet (class, constructed bit, tag number < 31). */
  tag: number;
  /** The whole TLV. */
  bytes: Buffer;
  /** The value octets. */
  content: Buffer;
}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  t61String: 0x14,
  ia5String: 0x16,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

export class DerError extends Error {}

/** Reads the TLV at `offset`; throws DerError on truncated or indefinite-length input. */
export function readDer(buffer: Buffer, offset = 0): DerNode {
  if (offset + 2 > buffer.length) throw new DerError("truncated DER");
  const tag = buffer[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("high tag numbers are not supported");
  let length = buffer[offset + 1]!;
  let header = 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4) throw new DerError("unsupported DER length");
    if (offset + 2 + octets > buffer.length) throw new DerError("truncated DER");
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + buffer[offset + 2 + i]!;
    header += octets;
  }
  const end = offset + header + length;
  if (end > buffer.length) throw new DerError("truncated DER");
  return { tag, bytes: buffer.subarray(offset, end), content: buffer.subarray(offset + header, end) };
}

/** The elements of a constructed node, in order. */
export function childrenOf(node: DerNode): DerNode[] {
  if (!(node.tag & 0x20)) throw new DerError("not a constructed DER element");
  const children: DerNode[] = [];
  let offset = 0;
  while (offset < node.content.length) {
    const child = readDer(node.content, offset);
    children.push(child);
    offset += child.bytes.length;
  }
  return children;
}

/** Reads a DER element that must be exactly the whole buffer. */
export function readWholeDer(buffer: Buffer): DerNode {
  const node = readDer(buffer, 0);
  if (node.bytes.length !== buffer.length) throw new DerError("trailing bytes after DER");
  return node;
}

export function oidOf(node: DerNode): string {
  if (node.tag !== TAG.oid || node.content.length === 0) throw new DerError("not an OID");
  const bytes = node.content;
  const first = bytes[0]!;
  const parts = [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40))];
  let value = 0;
  for (let i = 1; i < bytes.length; i++) {
    value = value * 128 + (bytes[i]! & 0x7f);
    if (!(bytes[i]! & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join(".");
}

/** A directory string's text (UTF8String, PrintableString, IA5String, T61String, BMPString). */
export function textOf(node: DerNode): string {
  switch (node.tag) {
    case TAG.utf8String:
      return node.content.toString("utf8");
    case TAG.printableString:
    case TAG.ia5String:
    case TAG.t61String:
      return node.content.toString("latin1");
    case TAG.bmpString: {
      const swapped = Buffer.from(node.content);
      swapped.swap16();
      return swapped.toString("utf16le");
    }
    default:
      throw new DerError(`not a string (tag 0x${node.tag.toString(16)})`);
  }
}
