// Cross-implementation helper for tests/test_envelope_crossimpl.py: one JSON request on stdin,
// one JSON answer on stdout. Binary values are base64url.
import {
  b64uDecode, b64uEncode, decryptEnvelope, encodeContent, encryptEnvelope, importPrivateKeyJwk,
} from "../../pwa/envelope.js";
import { encryptEnvelopeV2, openEnvelope } from "../../pwa/envelope2.js";

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
  async encode_content(req) {
    return { plaintext: b64uEncode(encodeContent(req.name, req.birth_date)) };
  },
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);
process.stdout.write(JSON.stringify(await ops[request.op](request)));
