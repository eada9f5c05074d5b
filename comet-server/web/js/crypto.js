// The user's login secret, derived in the browser exactly as the agent derives it
// (comet_protocol::account): salt = the first 16 bytes of BLAKE3("comet account v1" + user name),
// Argon2id (4 lanes, 3 passes, 64 MiB) to 64 bytes, login secret = hex of the first 32. The
// password itself never leaves the browser; the other 32 bytes (the wrapping key) are dropped.
//
// Argon2id and BLAKE3 come from hash-wasm (MIT, vendored under /vendor/hash-wasm), loaded only
// when a user signs in or changes a password.

import { hex } from './ui.js';

const SCRIPTS = ['/vendor/hash-wasm/argon2.umd.min.js', '/vendor/hash-wasm/blake3.umd.min.js'];

let loading = null;

function load(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

function hashWasm() {
  loading ??= (async () => {
    for (const src of SCRIPTS) await load(src);
    const hw = globalThis.hashwasm;
    if (!hw || typeof hw.argon2id !== 'function' || typeof hw.blake3 !== 'function') {
      throw new Error('the key derivation code did not load');
    }
    return hw;
  })().catch((e) => {
    loading = null;
    throw e;
  });
  return loading;
}

function fromHex(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** The login secret (64 hex characters) of `username` with `password`. */
export async function deriveLoginSecret(username, password) {
  const hw = await hashWasm();
  const encoder = new TextEncoder();
  const context = encoder.encode('comet account v1');
  const name = encoder.encode(username);
  const input = new Uint8Array(context.length + name.length);
  input.set(context);
  input.set(name, context.length);
  const salt = fromHex(await hw.blake3(input)).slice(0, 16);
  const out = await hw.argon2id({
    password: encoder.encode(password),
    salt,
    parallelism: 4,
    iterations: 3,
    memorySize: 64 * 1024,
    hashLength: 64,
    outputType: 'binary',
  });
  const secret = hex(out.slice(0, 32));
  out.fill(0);
  return secret;
}
