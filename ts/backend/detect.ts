/** Environment probes. */

export function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}

/**
 * Whether this engine validates wasm SIMD (simd128): a tiny module whose one function does
 * `i32.const 0; i8x16.splat; drop`. Engines without SIMD reject it.
 */
export function hasWasmSimd(): boolean {
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
    0x03, 0x02, 0x01, 0x00, // function section
    0x0a, 0x09, 0x01, 0x07, 0x00, 0x41, 0x00, 0xfd, 0x0f, 0x1a, 0x0b, // code: i32.const 0, i8x16.splat, drop, end
  ]);
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}
