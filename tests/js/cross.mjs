// Cross-implementation helper for tests/test_envelope_crossimpl.py: one JSON request on stdin,
// one JSON answer on stdout. Binary values are base64url.
import {
  b64uDecode, b64uEncode, decryptEnvelope, encodeContent, encryptEnvelope, importPrivateKeyJwk,
} from "../../pwa/envelope.js";
import { encryptEnvelopeV2, openEnvelope } from "../../pwa/envelope2.js";
import {
  SignatureInvalid, encryptEnvelopeV3, verifyEnvelopeSignature,
} from "../../pwa/envelope3.js";

const ECDSA = { name: "ECDSA", namedCurve: "P-256" };

const ops = {
  async encrypt(req) {
    const seal = req.head ? encryptEnvelopeV2 : encryptEnvelope; // a head: version 2
    const envelope = await seal(b64uDecode(req.public_key), req.signal_id,
      req.device_id, b64uDecode(req.plaintext), req.head);
    return { envelope };
  },
  async decrypt(req) {
    const key = await importPrivateKeyJwk(req.jwk);
    const plain = await decryptEnvelope(key, b64uDecode(req.public_key), req.signal_id,
      req.device_id, req.envelope);
    return { plaintext: b64uEncode(plain) };
  },
  async open(req) { // version 1 or 2: {plaintext, head}
    const key = await importPrivateKeyJwk(req.jwk);
    const { plain, head } = await openEnvelope(key, b64uDecode(req.public_key), req.signal_id,
      req.device_id, req.envelope);
    return { plaintext: b64uEncode(plain), head };
  },
  async seal_v3(req) { // signed with the signing key given as a private JWK
    const { kty, crv, d, x, y } = req.signing_jwk;
    const key = await crypto.subtle.importKey("jwk", { kty, crv, d, x, y }, ECDSA, false,
      ["sign"]);
    const envelope = await encryptEnvelopeV3(b64uDecode(req.public_key), req.signal_id,
      req.device_id, b64uDecode(req.plaintext), req.head, req.signer, key, req.origin ?? null);
    return { envelope };
  },
  async verify_open(req) { // the verdict, then (verified) {sender, plaintext, signer, origin}
    try {
      const sender = await verifyEnvelopeSignature(req.envelope, req.signal_id, req.device_id,
        req.sig_key);
      const key = await importPrivateKeyJwk(req.jwk);
      const { plain, signer, origin } = await openEnvelope(key, b64uDecode(req.public_key),
        req.signal_id, req.device_id, req.envelope);
      return { verdict: "verified", sender, signer, origin, plaintext: b64uEncode(plain) };
    } catch (error) {
      return { verdict: error instanceof SignatureInvalid ? "bad_signature" : error.name };
    }
  },
  async encode_content(req) {
    return { plaintext: b64uEncode(encodeContent(req.name, req.birth_date)) };
  },
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);
process.stdout.write(JSON.stringify(await ops[request.op](request)));
