// pwa/keyring.js in Node: the committed rotation vectors (Python makes and passes them too) and
// the key kept while a live envelope needs it. IndexedDB and the server are the browser test's
// (tests/test_browser_rotation.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import * as envelope from "../../pwa/envelope.js";
import * as envelope2 from "../../pwa/envelope2.js";
import * as keyring from "../../pwa/keyring.js";
import { rotationVerdicts } from "./rotationvectors.mjs";

const FILE = JSON.parse(
  readFileSync(new URL("../vectors/envelope-rotation.json", import.meta.url), "utf8"));

test("the rotation vectors open with the kept key they were sealed to, or not at all", async () => {
  const verdicts = await rotationVerdicts({ keyring, envelope, envelope2 }, FILE);
  assert.equal(verdicts.length, 4);
  assert.deepEqual(verdicts.filter((v) => !v.ok), []);
});

test("a rotation is due after the policy's days, on a receiving device with a signing key",
  () => {
    const day = 86_400_000;
    const device = { signingKey: {}, sigKey: "k", keyMadeAt: 0 };
    const me = { org: { id: "s" }, person: { role: "contact" }, policy: { key_rotation_days: 7 } };
    assert.equal(keyring.rotationDue(device, me, 7 * day - 1), false);
    assert.equal(keyring.rotationDue(device, me, 7 * day), true);
    assert.equal(keyring.rotationDue({ ...device, sigKey: "" }, me, 8 * day), false);
    assert.equal(keyring.rotationDue(device, { ...me, person: { role: "sender" } }, 8 * day),
      false);
    assert.equal(keyring.rotationDue(device, { ...me, org: null }, 8 * day), false);
  });

test("no kept key: the failure is an error, not a silent undefined", async () => {
  await assert.rejects(keyring.openWithKeptKeys([], async () => "never"));
});

test("key_rotated by another than the device itself is refused, as in Python", async () => {
  const { verifyLog, KeylogError } = await import("../../pwa/keylog.js");
  const valid = JSON.parse(readFileSync(
    new URL("../vectors/keylog/rotation-valid.json", import.meta.url), "utf8"));
  const { state } = await verifyLog("school-1", valid.entries);
  assert.equal(state.devices.get("dev-b1").enc_key, valid.entries.at(-1).enc_key);
  for (const by of ["device:dev-a1", "server", "admin:admin-1"]) {
    const changed = [...valid.entries.slice(0, -1), { ...valid.entries.at(-1), by }];
    await assert.rejects(verifyLog("school-1", changed),
      (e) => e instanceof KeylogError && e.reason === "by");
  }
});
