/**
 * Just enough of the WebAssembly binary format to read and rewrite a module: LEB128, sections,
 * names. Every read is bounds-checked; a malformed module throws WasmFormatError, never reads past
 * the end.
 */

export class WasmFormatError extends Error {}

export class ByteReader {
  readonly bytes: Uint8Array;
  pos: number;
  readonly end: number;

  constructor (bytes: Uint8Array, start = 0, end = bytes.byteLength) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  get done (): boolean { return this.pos >= this.end; }

  u8 (): number {
    if (this.pos >= this.end) throw new WasmFormatError(`unexpected end at byte ${this.pos}`);
    return this.bytes[this.pos++]!;
  }

  /** Unsigned LEB128 of at most 32 bits. */
  u32 (): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.u8();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (result > 0xffff_ffff) throw new WasmFormatError(`u32 out of range at byte ${this.pos}`);
        return result;
      }
    }
    throw new WasmFormatError(`u32 too long at byte ${this.pos}`);
  }

  /** Skips a signed LEB128 of at most `bits` bits. */
  skipSigned (bits: number): void {
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; i < maxBytes; i++) if ((this.u8() & 0x80) === 0) return;
    throw new WasmFormatError(`signed LEB too long at byte ${this.pos}`);
  }

  skip (count: number): void {
    if (count < 0 || this.pos + count > this.end) throw new WasmFormatError(`unexpected end at byte ${this.pos}`);
    this.pos += count;
  }

  name (): string {
    const length = this.u32();
    const start = this.pos;
    this.skip(length);
    return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(start, start + length));
  }
}

/** Unsigned LEB128 encoding. */
export function encodeU32 (value: number): number[] {
  const out: number[] = [];
  let rest = value >>> 0;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return out;
}

export interface Section {
  readonly id: number;
  /** Offset of the section's contents (after id and size). */
  readonly start: number;
  readonly end: number;
}

/** Splits a module into its sections, checking the header and every size. */
export function readSections (bytes: Uint8Array): Section[] {
  const reader = new ByteReader(bytes);
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  for (const expected of header) if (reader.u8() !== expected) throw new WasmFormatError('not a WebAssembly 1.0 module');
  const sections: Section[] = [];
  while (!reader.done) {
    const id = reader.u8();
    const size = reader.u32();
    const start = reader.pos;
    reader.skip(size);
    sections.push({ id, start, end: start + size });
  }
  return sections;
}
