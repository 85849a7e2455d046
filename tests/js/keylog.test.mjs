// pwa/keylog.js in Node: the rules of docs/keylog.md on logs built here with real keys. The
// committed vectors (tests/vectors/keylog/) run in Chromium: tests/test_browser_keylog.py.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";

import {
  KeylogError, ZERO, agreesWith, canonicalBytes, comparisonCode, entryHash, extendsHead,
  recipients, sameDevices, verifyHead, verifyLog, verifyLogAnswer,
} from "../../pwa/keylog.js";
import { LogBuilder, newLogKey } from "./keylogbuild.mjs";
import { vectorVerdicts } from "./keylogvectors.mjs";

test("the committed vectors (tests/vectors/keylog/) get their verdicts", async () => {
  const dir = new URL("../vectors/keylog/", import.meta.url);
  const vectors = Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith(".json"))
    .map((f) => [f.slice(0, -5), JSON.parse(readFileSync(new URL(f, dir), "utf8"))]));
  const keylog = await import("../../pwa/keylog.js");
  const verdicts = await vectorVerdicts(keylog, vectors);
  assert.ok(verdicts.length >= 11, String(verdicts.length));
  assert.deepEqual(verdicts.filter((v) => !v.ok), []);
});

/** A school: an admin, a contact with a phone and an approved iPad, a teacher reset once. */
async function school() {
  const log = new LogBuilder();
  await log.append("person_added", "server", { person: "adm", role: "admin" });
  await log.append("person_added", "server", { person: "con", role: "contact" });
  await log.device("con", "phone", "migrated");
  await log.person("tea", "teacher");
  await log.device("con", "ipad", "approved", "phone");
  await log.device("tea", "t1", "link");
  await log.append("person_reset", "admin:adm", { person: "tea" });
  await log.device("tea", "t2", "contact");
  return log;
}

const refused = (promise, reason) => assert.rejects(promise,
  (e) => e instanceof KeylogError && (reason === undefined || e.reason === reason));

test("a valid log derives the recipients", async () => {
  const log = await school();
  const { state, hashes, head } = await verifyLog("org-1", log.entries);
  assert.equal(head.size, 8);
  assert.equal(head.hash, hashes[7]);
  assert.deepEqual(recipients(state, ["contact"]).map((d) => d.id), ["ipad", "phone"]);
  assert.deepEqual(recipients(state, ["teacher"]).map((d) => d.id), ["t2"]);
  const server = recipients(state, ["contact"]).map((d) => ({ device_id: d.id,
    public_key: d.enc_key }));
  assert.ok(sameDevices(recipients(state, ["contact"]), server));
  assert.ok(!sameDevices(recipients(state, ["contact"]), server.slice(1)));
  assert.ok(!sameDevices(recipients(state, ["contact"]), [...server, server[0]]));
  const swapped = [server[0], { ...server[1], public_key: server[0].public_key }];
  assert.ok(!sameDevices(recipients(state, ["contact"]), swapped));
});

test("canonical bytes are Python's json.dumps(sort_keys, compact)", async () => {
  const bytes = canonicalBytes({ b: "x", a: 1, A: "\"\\" });
  assert.equal(new TextDecoder().decode(bytes), '{"A":"\\"\\\\","a":1,"b":"x"}');
  for (const bad of [{ a: 1.5 }, { a: -1 }, { a: null }, { a: true }, { a: {} }, { a: "é" },
    { a: "\x7f" }, { a: 2 ** 53 }, [1]]) {
    assert.throws(() => canonicalBytes(bad), KeylogError);
  }
  assert.equal(await entryHash({}), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
});

test("every broken rule refuses the log", async () => {
  const base = await school();
  const cases = {
    changed: (e) => { e[4].person = "tea"; },
    seq: (e) => { e[2].seq = 3; },
    at: (e) => { e[5].at = 1; },
    extra: (e) => { e[1].name = "x"; },
    role: (e) => { e[3].role = "boss"; },
    kind: (e) => { e[3].kind = "person_invited"; },
    type: (e) => { e[3].at = String(e[3].at); },
    org: (e) => { e[0].org = "org-2"; },
    reordered: (e) => { [e[3], e[4]] = [e[4], e[3]]; },
    dropped: (e) => { e.splice(3, 1); },
  };
  for (const [name, change] of Object.entries(cases)) {
    const entries = structuredClone(base.entries);
    change(entries);
    await refused(verifyLog("org-1", entries), undefined, name);
  }
});

test("a device beside a working one needs its approval", async () => {
  const log = await school();
  await log.device("con", "evil", "link"); // the attack (a): a link for a person with a phone
  await refused(verifyLog("org-1", log.entries), "not_first_device");

  const forged = await school();
  const entry = await forged.device("con", "evil2", "approved", "phone");
  entry.approval = (await school().then((o) => o.device("con", "x", "approved", "phone"))).approval;
  await refused(verifyLog("org-1", forged.entries), "approval");

  const other = await school(); // approved by another person's device
  await other.device("tea", "t3", "approved", "ipad");
  await refused(verifyLog("org-1", other.entries), "approver");

  const late = await school(); // migrated outside the genesis prefix
  await late.device("adm", "m", "migrated");
  await refused(verifyLog("org-1", late.entries), "migrated");
});

test("reused ids and keys, revocations of unknown devices are refused", async () => {
  const log = await school();
  const t2 = log.entries.at(-1);
  await log.append("device_added", "admin:adm", { ...Object.fromEntries(Object.entries(t2)
    .filter(([k]) => ["person", "enc_key", "sig_key", "how"].includes(k))), device: "t9",
  person: "adm" });
  await refused(verifyLog("org-1", log.entries), "reused");
  const revoke = await school();
  await revoke.append("device_revoked", "device:phone", { person: "tea", device: "phone" });
  await refused(verifyLog("org-1", revoke.entries), "device");
});

test("heads: signed, naming the log's end, extending the remembered one", async () => {
  const log = await school();
  const logKey = await newLogKey();
  const { hashes, head } = await verifyLog("org-1", log.entries);
  const answer = { org: "org-1", entries: log.entries, head: await logKey.sign(head) };
  await verifyLogAnswer("org-1", answer, logKey.key, { org: "org-1", size: 3, hash: hashes[2] });
  await verifyLogAnswer("org-1", answer, logKey.key, { org: "org-1", size: 0, hash: ZERO });
  await refused(verifyLogAnswer("org-1", answer, logKey.key,
    { org: "org-1", size: 3, hash: hashes[3] }), "inconsistent");
  await refused(verifyLogAnswer("org-1", answer, logKey.key,
    { org: "org-1", size: 9, hash: hashes[3] }), "inconsistent");
  await refused(verifyLogAnswer("org-1", answer, (await newLogKey()).key), "head_sig");
  await refused(verifyHead(logKey.key, { ...answer.head, size: 7 }), "head_sig");
  const short = { ...answer, entries: log.entries.slice(0, 7) };
  await refused(verifyLogAnswer("org-1", short, logKey.key), "head_mismatch");
  assert.ok(extendsHead(hashes, undefined));
  assert.ok(!extendsHead(hashes, { size: 0, hash: hashes[0] }));
});

test("a fork: same size, another history, is inconsistent with what was seen", async () => {
  const seen = await school();
  const fork = await school(); // other keys, so other hashes from entry 2 on
  const mine = await verifyLog("org-1", seen.entries);
  const theirs = await verifyLog("org-1", fork.entries);
  assert.ok(!extendsHead(theirs.hashes, mine.head));
  assert.ok(agreesWith(mine, { org: "org-1", size: 2, hash: mine.hashes[1] }));
  assert.ok(agreesWith(mine, mine.head));
  assert.ok(!agreesWith(mine, theirs.head));
  assert.ok(!agreesWith(mine, { org: "org-1", size: 9, hash: mine.hashes[1] }));
});

test("the comparison code has six digits with a space", async () => {
  const log = await school();
  const { encKey, sigKey } = log.keys.get("ipad");
  const code = await comparisonCode(encKey, sigKey);
  assert.match(code, /^\d{3} \d{3}$/);
  assert.equal(await comparisonCode(encKey, sigKey), code);
  assert.notEqual(await comparisonCode(sigKey, encKey), code);
});
