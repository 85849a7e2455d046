// hwc-envelope-v1 (DESIGN.md section 4): ECDH P-256 + HKDF-SHA256 + AES-256-GCM, WebCrypto only.
// Must agree byte for byte with server/envelope.py (tests/vectors/envelope-v1.json). v2:
// envelope2.js; v3: envelope3.js.
// Runs unchanged in browsers and in Node 20: only globalThis.crypto, TextEncoder, atob, btoa.

const SCHEME = "hwc-envelope-v1";
const VERSION = 1;
const V1 = { v: VERSION, keys: "ct,epk,iv,salt,v" };
const POINT_BYTES = 65;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const MAX_CT_BYTES = 1024; // a name and a birth date fit many times over
const MAX_PLAINTEXT_BYTES = MAX_CT_BYTES - TAG_BYTES;
const ECDH = { name: "ECDH", namedCurve: "P-256" };
const B64U = /^[A-Za-z0-9_-]*$/;

const utf8 = new TextEncoder();
const subtle = () => globalThis.crypto.subtle; // looked up late: absent outside secure contexts

/** Any envelope failure. Messages are fixed short English: never plaintext or key material. */
export class EnvelopeError extends Error {
  constructor(message) {
    super(message);
    this.name = "EnvelopeError";
  }
}

// --- base64url ------------------------------------------------------------------------------

export function b64uEncode(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * A new signal id: 6 bytes of the time in milliseconds, then 10 random bytes; base64url (22
 * characters). Time first, so a new signal's rows land beside those of other recent signals in
 * the server's indexes, not on a random page of each (server/envelope.py makes them alike).
 */
export function newSignalId(now = Date.now()) {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 5, t = now; i >= 0; i -= 1, t = Math.floor(t / 256)) bytes[i] = t % 256;
  return b64uEncode(bytes);
}

/** Strict: one text per byte string, so a re-encoded field can never differ from the input. */
export function b64uDecode(text) {
  if (typeof text !== "string" || !B64U.test(text) || text.length % 4 === 1) {
    throw new EnvelopeError("not base64url without padding");
  }
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (b64uEncode(bytes) !== text) throw new EnvelopeError("not canonical base64url");
  return bytes;
}

// --- keys -----------------------------------------------------------------------------------

/** A device key: the private half can never leave this browser; the server gets publicKeyRaw. */
export async function generateDeviceKey() {
  const pair = await subtle().generateKey(ECDH, false, ["deriveBits"]);
  const publicKeyRaw = new Uint8Array(await subtle().exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKeyRaw };
}

/** Its key log signing key: {privateKey, sigKey}. */
export async function generateSigningKey() {
  const pair = await subtle().generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  return { privateKey: pair.privateKey,
    sigKey: b64uEncode(new Uint8Array(await subtle().exportKey("raw", pair.publicKey))) };
}

/** WebCrypto imports a raw private scalar only as JWK {kty, crv, d, x, y}. */
export async function importPrivateKeyJwk(jwk, extractable = false) {
  const { kty, crv, d, x, y } = jwk;
  return subtle().importKey("jwk", { kty, crv, d, x, y }, ECDH, extractable, ["deriveBits"]);
}

/** A {privateKey, publicKey} pair from a private JWK, e.g. a vector's ephemeral key. */
export async function importKeyPairJwk(jwk) {
  const { kty, crv, x, y } = jwk;
  return {
    privateKey: await importPrivateKeyJwk(jwk),
    publicKey: await subtle().importKey("jwk", { kty, crv, x, y }, ECDH, true, []),
  };
}

function checkPointBytes(raw) {
  // Uncompressed only: the spec fixes 65 bytes, and compressed points would be a second form.
  if (!(raw instanceof Uint8Array) || raw.length !== POINT_BYTES || raw[0] !== 4) {
    throw new EnvelopeError("public key must be a 65-byte uncompressed point");
  }
  return raw;
}

export async function importPoint(raw) {
  checkPointBytes(raw);
  try {
    return await subtle().importKey("raw", raw, ECDH, true, []);
  } catch {
    throw new EnvelopeError("public key is not a P-256 point");
  }
}

// --- the envelope ---------------------------------------------------------------------------

function aadFor(signalId, deviceId) {
  // "|" separates the ids, so an id holding one would make two contexts share an aad.
  for (const value of [signalId, deviceId]) {
    if (typeof value !== "string" || !value || value.includes("|") || !value.isWellFormed()) {
      throw new EnvelopeError("ids must be non-empty strings without '|'");
    }
  }
  return utf8.encode(`${SCHEME}|${signalId}|${deviceId}`);
}

async function aesKey(privateKey, peer, salt, epk, recipient) {
  const shared = await subtle().deriveBits({ name: "ECDH", public: peer }, privateKey, 256);
  const info = concat(utf8.encode(SCHEME), Uint8Array.of(0), epk, recipient);
  const ikm = await subtle().importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  return subtle().deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function fixedBytes(value, size, name) {
  if (value === undefined) return globalThis.crypto.getRandomValues(new Uint8Array(size));
  if (!(value instanceof Uint8Array) || value.length !== size) {
    throw new EnvelopeError(`${name} must be ${size} bytes`);
  }
  return value;
}

/** Seal plaintextBytes for one device. opts {ephemeralKeyPair, salt, iv} are for vectors only. */
export async function encryptEnvelope(recipientPublicKeyRaw, signalId, deviceId, plaintextBytes,
  opts = {}, format = V1) {
  const peer = await importPoint(recipientPublicKeyRaw);
  const aad = format.aad ?? aadFor(signalId, deviceId);
  const size = plaintextBytes instanceof Uint8Array ? plaintextBytes.length : 0;
  if (size < 1 || size > MAX_PLAINTEXT_BYTES) {
    throw new EnvelopeError(`plaintext must be 1 to ${MAX_PLAINTEXT_BYTES} bytes`);
  }
  const salt = fixedBytes(opts.salt, SALT_BYTES, "salt");
  const iv = fixedBytes(opts.iv, IV_BYTES, "iv");
  const pair = opts.ephemeralKeyPair ?? await subtle().generateKey(ECDH, false, ["deriveBits"]);
  const epk = new Uint8Array(await subtle().exportKey("raw", pair.publicKey));
  const key = await aesKey(pair.privateKey, peer, salt, epk, recipientPublicKeyRaw);
  const ct = await subtle().encrypt({ name: "AES-GCM", iv, additionalData: aad }, key,
    plaintextBytes);
  return { v: format.v, epk: b64uEncode(epk), salt: b64uEncode(salt), iv: b64uEncode(iv),
    ct: b64uEncode(new Uint8Array(ct)), ...(format.head && { head: format.head }) };
}

function field(envelope, name, low, high) {
  const text = envelope[name];
  // Bound the text before decoding, so a huge field costs nothing.
  if (typeof text !== "string" || text.length > Math.floor((high * 4 + 2) / 3)) {
    throw new EnvelopeError(`${name} is too long or not a string`);
  }
  let data;
  try {
    data = b64uDecode(text);
  } catch {
    throw new EnvelopeError(`${name} is not base64url`);
  }
  if (data.length < low || data.length > high) {
    throw new EnvelopeError(`${name} has the wrong length`);
  }
  return data;
}

export function parse(envelope, format) {
  const plain = envelope !== null && typeof envelope === "object" && !Array.isArray(envelope) &&
    Object.getPrototypeOf(envelope) === Object.prototype;
  if (!plain || Object.keys(envelope).sort().join() !== format.keys) {
    throw new EnvelopeError("envelope must have exactly the keys v, epk, salt, iv, ct");
  }
  if (envelope.v !== format.v) throw new EnvelopeError("unsupported envelope version");
  return {
    epk: field(envelope, "epk", POINT_BYTES, POINT_BYTES),
    salt: field(envelope, "salt", SALT_BYTES, SALT_BYTES),
    iv: field(envelope, "iv", IV_BYTES, IV_BYTES),
    ct: field(envelope, "ct", TAG_BYTES + 1, MAX_CT_BYTES),
  };
}

/** Open an envelope. The private key is non-extractable, so its public point comes along. */
export async function decryptEnvelope(privateKey, recipientPublicKeyRaw, signalId, deviceId,
  envelope, format = V1) {
  const { epk, salt, iv, ct } = parse(envelope, format);
  const peer = await importPoint(epk);
  const aad = format.aad ?? aadFor(signalId, deviceId);
  checkPointBytes(recipientPublicKeyRaw);
  try {
    const key = await aesKey(privateKey, peer, salt, epk, recipientPublicKeyRaw);
    const plain = await subtle().decrypt({ name: "AES-GCM", iv, additionalData: aad }, key, ct);
    return new Uint8Array(plain);
  } catch {
    throw new EnvelopeError("envelope does not open with this key and these ids");
  }
}

// --- the signal content ---------------------------------------------------------------------

/** Compact UTF-8 JSON, exactly what encode_content gives in server/envelope.py. */
export function encodeContent(name, birthDate) {
  if (typeof name !== "string" || typeof birthDate !== "string") {
    throw new EnvelopeError("content fields must be strings");
  }
  // Lone surrogates: JSON.stringify would escape them where Python refuses; refuse them too.
  if (!name.isWellFormed() || !birthDate.isWellFormed()) {
    throw new EnvelopeError("content is not valid Unicode");
  }
  return utf8.encode(JSON.stringify({ name, birth_date: birthDate }));
}

/** Strict: only the canonical encoding is accepted, so both languages refuse the same. */
export function decodeContent(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new EnvelopeError("content must be bytes");
  let content;
  try {
    content = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch {
    throw new EnvelopeError("content is not UTF-8 JSON");
  }
  const ok = content !== null && typeof content === "object" && !Array.isArray(content) &&
    Object.keys(content).sort().join() === "birth_date,name";
  if (!ok) throw new EnvelopeError("content must have exactly the keys name and birth_date");
  const canonical = encodeContent(content.name, content.birth_date);
  if (canonical.length !== bytes.length || canonical.some((b, i) => b !== bytes[i])) {
    throw new EnvelopeError("content is not in canonical form");
  }
  return { name: content.name, birth_date: content.birth_date };
}
