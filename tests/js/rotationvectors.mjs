// The committed key rotation vectors (tests/vectors/envelope-rotation.json) against
// pwa/keyring.js's choice of key: the envelope opens with the kept key it was sealed to, and
// with none once that key is destroyed. Takes the modules as arguments, so it runs as it is in
// Node (tests/js/rotation.test.mjs) and in Chromium (tests/test_browser_rotation.py).

/** One verdict per vector: {description, ok, detail}. */
export async function rotationVerdicts({ keyring, envelope, envelope2 }, file) {
  const verdicts = [];
  for (const vector of file.vectors) {
    let opener = null;
    try {
      const kept = await Promise.all(vector.kept.map(async (name) => ({ name,
        privateKey: await envelope.importPrivateKeyJwk(vector.keys[name].jwk),
        publicKeyRaw: envelope.b64uDecode(vector.keys[name].public_key) })));
      const opened = await keyring.openWithKeptKeys(kept, async (key) => {
        const { plain } = await envelope2.openEnvelope(key.privateKey, key.publicKeyRaw,
          vector.signal_id, vector.device_id, vector.envelope);
        return { name: key.name, text: new TextDecoder().decode(plain) };
      });
      if (opened.text !== vector.plaintext) throw new Error("wrong plaintext");
      opener = opened.name;
    } catch (error) {
      if (!(error instanceof envelope.EnvelopeError)) {
        verdicts.push({ description: vector.description, ok: false, detail: `threw ${error}` });
        continue;
      }
    }
    verdicts.push({ description: vector.description, ok: opener === vector.opens_with,
      detail: `opened with ${opener} (expected ${vector.opens_with})` });
  }
  return verdicts;
}
