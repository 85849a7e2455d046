// The committed version 3 envelope vectors (tests/vectors/envelope-v3.json, made by
// tests/vectors/make_vectors.py) against pwa/envelope3.js and envelope2.js. Takes the modules
// and the vectors as arguments, so it runs as it is in Node (tests/js/envelope.test.mjs) and in
// Chromium (tests/test_browser_shell.py).

const utf8 = new TextEncoder();
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** What a recipient concludes, in the app's order: the signature first, then decryption. */
async function verdictOf({ envelope, envelope2, envelope3 }, vector) {
  const { signal_id: signalId, device_id: deviceId } = vector;
  try {
    await envelope3.verifyEnvelopeSignature(vector.envelope, signalId, deviceId,
      vector.signer_sig_key);
  } catch (error) {
    if (error instanceof envelope3.SignatureInvalid) return { verdict: "bad_signature" };
    if (error instanceof envelope.EnvelopeError) return { verdict: "malformed" };
    throw error;
  }
  try {
    const key = await envelope.importPrivateKeyJwk(vector.recipient.jwk);
    const opened = await envelope2.openEnvelope(key, envelope.b64uDecode(vector.recipient.public_key),
      signalId, deviceId, vector.envelope);
    return { verdict: "verified", opened };
  } catch (error) {
    if (error instanceof envelope.EnvelopeError) return { verdict: "unreadable" };
    throw error;
  }
}

/** A positive vector sealed again with its fixed inputs: every field but `sig` (WebCrypto's
 * nonces are random) the same, in the same order, and the new signature verifies. */
async function resealsAlike({ envelope, envelope3 }, vector, signingKeys) {
  const sealed = vector.envelope;
  const jwk = signingKeys[sealed.signer.device].jwk;
  const signingKey = await crypto.subtle.importKey("jwk",
    { kty: jwk.kty, crv: jwk.crv, d: jwk.d, x: jwk.x, y: jwk.y },
    { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const again = await envelope3.encryptEnvelopeV3(envelope.b64uDecode(vector.recipient.public_key),
    vector.signal_id, vector.device_id, utf8.encode(vector.plaintext), sealed.head, sealed.signer,
    signingKey, sealed.origin ?? null, {
      ephemeralKeyPair: await envelope.importKeyPairJwk(vector.ephemeral.jwk),
      salt: envelope.b64uDecode(vector.salt), iv: envelope.b64uDecode(vector.iv) });
  const unsigned = (e) => JSON.stringify({ ...e, sig: "" });
  if (unsigned(again) !== unsigned(sealed)) return false;
  const statement = await envelope3.signedStatement(again, vector.signal_id, vector.device_id);
  const expected = await envelope3.signedStatement(sealed, vector.signal_id, vector.device_id);
  await envelope3.verifyEnvelopeSignature(again, vector.signal_id, vector.device_id,
    vector.signer_sig_key);
  return same(statement, expected);
}

async function check(modules, vector, signingKeys) {
  const { verdict, opened } = await verdictOf(modules, vector);
  if (verdict !== vector.verdict) return { ok: false, detail: `${verdict} (expected ${vector.verdict})` };
  if (verdict !== "verified") return { ok: true, detail: verdict };
  const content = modules.envelope.decodeContent(opened.plain);
  const origin = vector.envelope.origin ?? null;
  const ok = same(opened.plain, utf8.encode(vector.plaintext)) &&
    content.name === vector.content.name &&
    JSON.stringify(opened.signer) === JSON.stringify(vector.envelope.signer) &&
    JSON.stringify(opened.origin) === JSON.stringify(origin) &&
    await resealsAlike(modules, vector, signingKeys);
  return { ok, detail: ok ? "verified, opened, resealed alike" : "opened or resealed otherwise" };
}

/** One result per vector: {description, expected, ok, detail}. */
export async function v3VectorVerdicts(modules, vectors) {
  const results = [];
  for (const vector of [...vectors.positive, ...vectors.negative]) {
    const base = { description: vector.description, expected: vector.verdict };
    try {
      results.push({ ...base, ...(await check(modules, vector, vectors.signing_keys)) });
    } catch (error) {
      results.push({ ...base, ok: false, detail: `threw ${error}` });
    }
  }
  return results;
}
