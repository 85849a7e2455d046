// hwc-envelope-v1 in JavaScript: the committed vectors, strictness and a random round trip.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  EnvelopeError, b64uDecode, b64uEncode, decodeContent, decryptEnvelope, encodeContent,
  encryptEnvelope, generateDeviceKey, importKeyPairJwk, importPrivateKeyJwk, newSignalId,
} from "../../pwa/envelope.js";
import { encryptEnvelopeV2, envelopeHead, openEnvelope } from "../../pwa/envelope2.js";
import * as envelopeModule from "../../pwa/envelope.js";
import * as envelope2Module from "../../pwa/envelope2.js";
import * as envelope3Module from "../../pwa/envelope3.js";
import { v3VectorVerdicts } from "./envelopevectors.mjs";

const VECTORS = JSON.parse(
  readFileSync(new URL("../vectors/envelope-v1.json", import.meta.url), "utf8"));
const utf8 = new TextEncoder();

for (const vector of VECTORS.positive) {
  test(`positive vector decrypts: ${vector.description}`, async () => {
    const key = await importPrivateKeyJwk(vector.recipient.jwk);
    const plain = await decryptEnvelope(key, b64uDecode(vector.recipient.public_key),
      vector.signal_id, vector.device_id, vector.envelope);
    assert.deepEqual(plain, utf8.encode(vector.plaintext));
    assert.deepEqual(decodeContent(plain), vector.content);
    assert.deepEqual(encodeContent(vector.content.name, vector.content.birth_date), plain);
  });

  test(`positive vector re-encrypts identically: ${vector.description}`, async () => {
    const envelope = await encryptEnvelope(b64uDecode(vector.recipient.public_key),
      vector.signal_id, vector.device_id, utf8.encode(vector.plaintext), {
        ephemeralKeyPair: await importKeyPairJwk(vector.ephemeral.jwk),
        salt: b64uDecode(vector.salt),
        iv: b64uDecode(vector.iv),
      });
    assert.equal(JSON.stringify(envelope), JSON.stringify(vector.envelope)); // key order too
  });
}

for (const vector of VECTORS.negative) {
  test(`negative vector fails: ${vector.description}`, async () => {
    const key = await importPrivateKeyJwk(vector.recipient.jwk);
    await assert.rejects(decryptEnvelope(key, b64uDecode(vector.recipient.public_key),
      vector.signal_id, vector.device_id, vector.envelope), EnvelopeError);
  });
}

test("a random device key round-trips random content", async () => {
  const { privateKey, publicKeyRaw } = await generateDeviceKey();
  assert.equal(privateKey.extractable, false);
  assert.deepEqual(privateKey.usages, ["deriveBits"]);
  assert.equal(publicKeyRaw.length, 65);
  assert.equal(publicKeyRaw[0], 4);
  const signalId = b64uEncode(crypto.getRandomValues(new Uint8Array(16)));
  for (let i = 0; i < 20; i++) {
    const codes = Array.from(crypto.getRandomValues(new Uint16Array(12)),
      (c) => (c >= 0xd800 && c < 0xe000 ? 0x41 : c));
    const name = String.fromCharCode(...codes) + "\u{1F9D2}";
    const envelope = await encryptEnvelope(publicKeyRaw, signalId, "dev-1",
      encodeContent(name, "2015-03-02"));
    const plain = await decryptEnvelope(privateKey, publicKeyRaw, signalId, "dev-1", envelope);
    assert.deepEqual(decodeContent(plain), { name, birth_date: "2015-03-02" });
    await assert.rejects(decryptEnvelope(privateKey, publicKeyRaw, signalId, "dev-2", envelope),
      EnvelopeError);
  }
});

test("malformed envelopes are refused", async () => {
  const { privateKey, publicKeyRaw } = await generateDeviceKey();
  const good = await encryptEnvelope(publicKeyRaw, "sig", "dev", encodeContent("a", "b"));
  const ct = (n) => b64uEncode(new Uint8Array(n));
  const bad = [
    null, [good], { ...good, x: 1 }, { ...good, v: true }, { ...good, v: "1" },
    { ...good, v: 2 }, { ...good, salt: ct(15) }, { ...good, iv: ct(13) }, { ...good, ct: ct(16) },
    { ...good, ct: ct(1025) }, { ...good, ct: `${good.ct}=` }, { ...good, epk: ct(65) },
    { ...good, epk: good.epk.slice(0, -2) }, Object.assign(Object.create(null), good),
  ];
  for (const envelope of bad) {
    await assert.rejects(decryptEnvelope(privateKey, publicKeyRaw, "sig", "dev", envelope),
      EnvelopeError);
  }
  for (const [signalId, deviceId] of [["", "dev"], ["s|g", "dev"], ["sig", "\udc00"]]) {
    await assert.rejects(decryptEnvelope(privateKey, publicKeyRaw, signalId, deviceId, good),
      EnvelopeError);
  }
});

test("byte mutations never open and only raise EnvelopeError", async () => {
  const { privateKey, publicKeyRaw } = await generateDeviceKey();
  const good = await encryptEnvelope(publicKeyRaw, "sig", "dev", encodeContent("Zoë", "b"));
  for (const name of ["epk", "salt", "iv", "ct"]) {
    const raw = b64uDecode(good[name]);
    for (let i = 0; i < raw.length; i++) {
      const changed = raw.slice();
      changed[i] ^= 1 + (i % 255);
      const envelope = { ...good, [name]: b64uEncode(changed) };
      await assert.rejects(decryptEnvelope(privateKey, publicKeyRaw, "sig", "dev", envelope),
        EnvelopeError);
    }
  }
});

test("b64u is strict", () => {
  for (const text of ["AA==", "AA=", "A", "AAAAA", "AB", "AAB", "A+", "A/", "A A", "AA\n", "é"]) {
    assert.throws(() => b64uDecode(text), EnvelopeError, text);
  }
  for (const value of [null, 1, new Uint8Array(2)]) {
    assert.throws(() => b64uDecode(value), EnvelopeError);
  }
  assert.equal(b64uEncode(Uint8Array.of(0xfb, 0xff, 0xbf)), "-_-_");
  assert.deepEqual(b64uDecode("AQ"), Uint8Array.of(1));
  assert.equal(b64uEncode(new Uint8Array(0)), "");
});

test("content is compact, canonical and strict", () => {
  assert.deepEqual(encodeContent("Zoë", "2015-03-02"),
    utf8.encode('{"name":"Zoë","birth_date":"2015-03-02"}'));
  assert.throws(() => encodeContent("\ud800", "x"), EnvelopeError);
  const refused = [
    '{"name":"a"}', '{"name":"a","birth_date":"b","x":"c"}', '{"name":1,"birth_date":"b"}',
    '{"birth_date":"b","name":"a"}', '{"name": "a", "birth_date": "b"}',
    '{"name":"a","name":"z","birth_date":"b"}', '{"name":"\\u00eb","birth_date":"b"}',
    '{"name":"\\ud800","birth_date":"b"}', '\ufeff{"name":"a","birth_date":"b"}', '["a","b"]', "",
  ];
  for (const text of refused) assert.throws(() => decodeContent(utf8.encode(text)), EnvelopeError);
  assert.throws(() => decodeContent(Uint8Array.of(0x22, 0xff, 0x22)), EnvelopeError);
});

test("a signal id starts with the time in milliseconds, then random bytes", () => {
  // The same 8 characters as in tests/test_envelope.py: both clients lay ids out alike.
  const ids = Array.from({ length: 100 }, () => newSignalId(1_790_000_000_500));
  for (const id of ids) {
    assert.ok(id.startsWith("AaDEUG30"), id);
    assert.equal(b64uDecode(id).length, 16);
  }
  assert.equal(new Set(ids).size, 100);
  assert.equal(Buffer.compare(b64uDecode(newSignalId(1_790_000_000_501)), b64uDecode(ids[0])), 1);
});

test("v2 binds the key log head: another head, or none, does not open", async () => {
  const { privateKey, publicKeyRaw } = await generateDeviceKey();
  const head = { org: "school-1", size: 12, hash: "ab".repeat(32) };
  const plain = encodeContent("Zoë", "2015-03-02");
  const good = await encryptEnvelopeV2(publicKeyRaw, "sig", "dev", plain, head);
  assert.equal(good.v, 2);
  assert.deepEqual(envelopeHead(good), head);
  const open = (envelope) => openEnvelope(privateKey, publicKeyRaw, "sig", "dev", envelope);
  assert.deepEqual(await open(good), { plain, head, signer: null, origin: null });
  const others = [{ ...head, size: 11 }, { ...head, org: "school-2" },
    { ...head, hash: "cd".repeat(32) }];
  for (const other of others) await assert.rejects(open({ ...good, head: other }), EnvelopeError);
  const { head: _, ...bare } = good;
  for (const bad of [bare, { ...bare, v: 1 }, { ...good, head: { ...head, x: "y" } },
    { ...good, head: { ...head, size: -1 } }, { ...good, head: { ...head, hash: "AB".repeat(32) } },
    { ...good, head: null }, { ...good, v: 1 }]) {
    await assert.rejects(open(bad), EnvelopeError);
  }
  await assert.rejects(decryptEnvelope(privateKey, publicKeyRaw, "sig", "dev", good),
    EnvelopeError); // version 1's reader refuses version 2
  const v1 = await encryptEnvelope(publicKeyRaw, "sig", "dev", plain);
  assert.deepEqual(await open(v1), { plain, head: null, signer: null, origin: null });
  await assert.rejects(encryptEnvelopeV2(publicKeyRaw, "sig", "dev", plain,
    { ...head, org: "é" }), EnvelopeError);
  await assert.rejects(encryptEnvelopeV2(publicKeyRaw, "s|g", "dev", plain, head), EnvelopeError);
});

// The shared version 2 vectors (tests/vectors/make_vectors.py): the same bytes as Python.
const VECTORS_V2 = JSON.parse(
  readFileSync(new URL("../vectors/envelope-v2.json", import.meta.url), "utf8"));

for (const vector of VECTORS_V2.positive) {
  test(`v2 vector opens and re-encrypts identically: ${vector.description}`, async () => {
    const key = await importPrivateKeyJwk(vector.recipient.jwk);
    const recipient = b64uDecode(vector.recipient.public_key);
    const { plain, head } = await openEnvelope(key, recipient, vector.signal_id, vector.device_id,
      vector.envelope);
    assert.deepEqual(plain, utf8.encode(vector.plaintext));
    assert.deepEqual(head, vector.envelope.head);
    const again = await encryptEnvelopeV2(recipient, vector.signal_id, vector.device_id, plain,
      vector.envelope.head, { ephemeralKeyPair: await importKeyPairJwk(vector.ephemeral.jwk),
        salt: b64uDecode(vector.salt), iv: b64uDecode(vector.iv) });
    assert.equal(JSON.stringify(again), JSON.stringify(vector.envelope)); // key order too
  });
}

for (const vector of VECTORS_V2.negative) {
  test(`v2 negative vector fails: ${vector.description}`, async () => {
    const key = await importPrivateKeyJwk(vector.recipient.jwk);
    await assert.rejects(openEnvelope(key, b64uDecode(vector.recipient.public_key),
      vector.signal_id, vector.device_id, vector.envelope), EnvelopeError);
  });
}

// The shared version 3 vectors: the same verdict as Python for each (tests/test_envelope.py).
const VECTORS_V3 = JSON.parse(
  readFileSync(new URL("../vectors/envelope-v3.json", import.meta.url), "utf8"));
const MODULES = { envelope: envelopeModule, envelope2: envelope2Module, envelope3: envelope3Module };

test("every v3 vector gets Python's verdict", async () => {
  const results = await v3VectorVerdicts(MODULES, VECTORS_V3);
  assert.equal(results.length, VECTORS_V3.positive.length + VECTORS_V3.negative.length);
  assert.deepEqual(results.filter((r) => !r.ok), []);
  const verdicts = new Set(results.map((r) => r.expected));
  assert.deepEqual([...verdicts].sort(), ["bad_signature", "malformed", "unreadable", "verified"]);
});

test("v3 round trip with fresh keys: signer, origin, and what breaks the signature", async () => {
  const { SignatureInvalid, encryptEnvelopeV3, verifyEnvelopeSignature } = envelope3Module;
  const { privateKey, publicKeyRaw } = await generateDeviceKey();
  const signing = await envelopeModule.generateSigningKey();
  const other = await envelopeModule.generateSigningKey();
  const head = { org: "school-1", size: 12, hash: "ab".repeat(32) };
  const signer = { org: "school-1", device: "dev-contact" };
  const origin = { org: "vt-1", device: "dev-sender" };
  const plain = encodeContent("Zoë", "2015-03-02");
  const forwarded = await encryptEnvelopeV3(publicKeyRaw, "sig", "dev", plain, head, signer,
    signing.privateKey, origin);
  assert.deepEqual(Object.keys(forwarded),
    ["v", "epk", "salt", "iv", "ct", "head", "signer", "origin", "sig"]);
  assert.deepEqual(await verifyEnvelopeSignature(forwarded, "sig", "dev", signing.sigKey), {
    signer_org: "school-1", signer_device: "dev-contact", origin_org: "vt-1",
    origin_device: "dev-sender" });
  assert.deepEqual(await openEnvelope(privateKey, publicKeyRaw, "sig", "dev", forwarded),
    { plain, head, signer, origin });
  const verify = (envelope, key = signing.sigKey, device = "dev") =>
    verifyEnvelopeSignature(envelope, "sig", device, key);
  const { origin: _, ...direct } = forwarded;
  for (const [envelope, key, device] of [[forwarded, other.sigKey], [forwarded, "", "dev"],
    [forwarded, signing.sigKey, "dev-2"], [direct], [{ ...forwarded, origin: signer }],
    [{ ...forwarded, signer: { ...signer, org: "school-2" } }]]) {
    await assert.rejects(verify(envelope, key, device), SignatureInvalid);
  }
  const v2 = await encryptEnvelopeV2(publicKeyRaw, "sig", "dev", plain, head);
  for (const bad of [v2, { ...forwarded, v: 2 }, { ...forwarded, sig: forwarded.sig.slice(2) },
    { ...forwarded, extra: 1 }, { ...forwarded, origin: null }, null]) {
    await assert.rejects(verify(bad), (error) => error instanceof EnvelopeError);
  }
  assert.ok(!(new SignatureInvalid() instanceof EnvelopeError));
  await assert.rejects(openEnvelope(privateKey, publicKeyRaw, "sig", "dev", { ...forwarded, v: 2 }),
    EnvelopeError); // another aad label: a v3 ciphertext does not open as v2
  const { signer: _s, sig: _g, origin: _o, ...asV2 } = forwarded;
  await assert.rejects(openEnvelope(privateKey, publicKeyRaw, "sig", "dev", { ...asV2, v: 2 }),
    EnvelopeError);
  await assert.rejects(encryptEnvelopeV3(publicKeyRaw, "sig", "dev", plain, head,
    { org: "é", device: "d" }, signing.privateKey), EnvelopeError);
});
