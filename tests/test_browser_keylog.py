"""pwa/keylog.js in Debian's Chromium: every committed key log vector (tests/vectors/keylog/)
gets its verdict, and a school's 200-entry log verifies fast enough on a slow phone."""

from __future__ import annotations

import json
from typing import Any

from bench.keylogcost import BUDGET_MS, SLOWDOWN, school_page, source_page, verify_times_ms
from tests.browser import ROOT
from tests.support import World

VECTOR_DIR = ROOT / "tests/vectors/keylog"
VECTORS = {p.stem: json.loads(p.read_text()) for p in VECTOR_DIR.glob("*.json")}


RUN_VECTORS_JS = """async (vectors) => {
  const keylog = await import('/pwa/keylog.js');
  const { vectorVerdicts } = await import('/tests/js/keylogvectors.mjs');
  return vectorVerdicts(keylog, vectors);
}"""


def test_every_key_log_vector_gets_its_verdict_in_chromium(browser: Any, world: World) -> None:
    page = source_page(browser, world.url)
    verdicts = page.evaluate(RUN_VECTORS_JS, VECTORS)
    assert {v["name"] for v in verdicts} == set(VECTORS)
    assert [v for v in verdicts if not v["ok"]] == []
    refused = {v["name"] for v in verdicts if v["detail"].startswith("refused")}
    assert {"fork", "truncated", "bad-head-signature", "missing-approval"} <= refused
    page.context.close()


def test_a_school_log_of_200_entries_verifies_within_budget(browser: Any, world: World) -> None:
    page = school_page(browser, world.url)
    # The best of 7 runs is the machine's capability; other engineers' load on this shared
    # machine only adds, so a round over budget is measured again (at most three rounds).
    for _ in range(3):
        times = verify_times_ms(page, SLOWDOWN)
        print(
            f"\nkey log of 200 entries, {SLOWDOWN}x CPU slowdown: median "
            f"{times[len(times) // 2]:.1f} ms, best {times[0]:.1f} ms, worst {times[-1]:.1f} ms"
        )
        if times[0] < BUDGET_MS:
            break
    assert times[0] < BUDGET_MS, times
    page.context.close()


# pwa/trust.js against a fake server (the page's fetch replaced): the log, the log key and the
# security events; a school's log built in the page with real keys.
TRUST_JS = """async () => {
  window.events = [];
  const json = (body) => new Response(JSON.stringify(body),
    { headers: { 'Content-Type': 'application/json' } });
  window.fetch = async (path, init) => {
    if (path === '/api/log/key') return json({ key: window.fake.key });
    if (path === '/api/orgs/school-1/log') return json(window.fake.log);
    if (path === '/api/security-events') window.events.push(JSON.parse(init.body));
    return json({ recorded: true });
  };
  const { LogBuilder, newLogKey } = await import('/tests/js/keylogbuild.mjs');
  const keylog = await import('/pwa/keylog.js');
  const trust = await import('/pwa/trust.js');
  const { keepAnswer } = await import('/pwa/keystore.js');
  const { encodeContent, generateDeviceKey, b64uDecode } = await import('/pwa/envelope.js');
  const { openEnvelope } = await import('/pwa/envelope2.js');
  const logKey = await newLogKey();
  const answerOf = async (log) => ({ org: 'school-1', entries: log.entries,
    head: await logKey.sign((await keylog.verifyLog('school-1', log.entries)).head) });
  const log = new LogBuilder('school-1');
  await log.person('c1', 'contact');
  await log.device('c1', 'phone');
  await log.person('t1', 'teacher');
  await log.device('t1', 'tphone');
  window.fake = { key: logKey.key, log: await answerOf(log) };
  const server = [{ device_id: 'phone', public_key: log.keys.get('phone').encKey }];
  const out = {};
  const attempt = async (name, receiver, devices, strict = true) => {
    try {
      out[name] = await trust.checkedHead(receiver, devices, strict);
    } catch (error) {
      out[name] = { error: error.code, message: error.message };
    }
  };
  await attempt('honest', { org: 'school-1' }, server);
  await attempt('teacher', { org: 'school-1', people: ['t1'] },
    [{ device_id: 'tphone', public_key: log.keys.get('tphone').encKey }]);
  const planted = await generateDeviceKey();
  const { b64uEncode } = await import('/pwa/envelope.js');
  await attempt('planted', { org: 'school-1' },
    [...server, { device_id: 'planted', public_key: b64uEncode(planted.publicKeyRaw) }]);
  await attempt('swapped', { org: 'school-1' },
    [{ device_id: 'phone', public_key: b64uEncode(planted.publicKeyRaw) }]);
  // A first try with a list from before the log moved on: sealed to the log's devices.
  await attempt('stale', { org: 'school-1' }, [], false);
  const fork = new LogBuilder('school-1');  // same shape, other keys: another history
  await fork.person('c1', 'contact');
  await fork.device('c1', 'phone');
  await fork.person('t1', 'teacher');
  await fork.device('t1', 'tphone');
  await fork.person('t2', 'teacher');
  window.fake.log = await answerOf(fork);
  await attempt('fork', { org: 'school-1' },
    [{ device_id: 'phone', public_key: fork.keys.get('phone').encKey }]);
  window.fake.log = { ...(await answerOf(log)), head: { ...(await answerOf(log)).head, size: 3 } };
  await attempt('bad_head', { org: 'school-1' }, server);
  // A v2 envelope sealed under a head this device's own view does not contain.
  window.fake.log = await answerOf(log);
  await keepAnswer('/api/me', { person: { name: 'x' }, org: { id: 'school-1' } });
  const mine = await generateDeviceKey();
  const sealed = await trust.sealFor({ org: 'school-1' }, server, 'sig',
    { name: 'Zoë', birth_date: '2015-03-02' });
  const device = { privateKey: mine.privateKey, publicKeyRaw: mine.publicKeyRaw, deviceId: 'me' };
  const { encryptEnvelopeV2 } = await import('/pwa/envelope2.js');
  const plain = encodeContent('Zoë', '2015-03-02');
  const ownHead = (await keylog.verifyLog('school-1', log.entries)).head;
  const good = await encryptEnvelopeV2(mine.publicKeyRaw, 'sig', 'me', plain, ownHead);
  out.open_good = Array.from(await trust.openV2(device, 'sig', good)).length;
  out.flash_good = document.querySelector('main').textContent;
  const forkHead = (await keylog.verifyLog('school-1', fork.entries)).head;
  const bad = await encryptEnvelopeV2(mine.publicKeyRaw, 'sig', 'me', plain, forkHead);
  out.open_forked = Array.from(await trust.openV2(device, 'sig', bad)).length;
  const { screen } = await import('/pwa/views/common.js');
  out.flash_forked = screen('Signaal').textContent;
  out.sealed = sealed.map((e) => [e.device_id, e.envelope.v, e.envelope.head]);
  out.events = window.events;
  return out;
}"""


def test_trust_seals_only_to_the_logs_devices_and_reports_otherwise(
    browser: Any, world: World
) -> None:
    page = source_page(browser, world.url)
    page.evaluate(
        "() => { document.body.append(Object.assign(document.createElement('main'), "
        "{ id: 'main' })); }"
    )
    out = page.evaluate(TRUST_JS)
    head, phone = out["honest"]["head"], out["honest"]["devices"]
    assert head["size"] == 4 and head["org"] == "school-1"
    assert [d["device_id"] for d in phone] == ["phone"]
    assert out["teacher"]["head"] == head and out["teacher"]["devices"][0]["device_id"] == "tphone"
    assert out["stale"] == out["honest"]
    refused = {"error": "untrusted_devices", "message": out["planted"]["message"]}
    assert out["planted"] == refused and out["swapped"] == refused
    assert "Het signaal is niet verstuurd" in refused["message"]
    assert "Bel de ontvanger" in refused["message"]
    assert out["fork"]["error"] == "untrusted_devices"  # not consistent with the head seen
    assert out["bad_head"]["error"] == "untrusted_devices"
    assert out["open_good"] > 0 and "andere lijst" not in out["flash_good"]
    assert out["open_forked"] > 0 and "andere lijst met apparaten" in out["flash_forked"]
    assert out["sealed"] == [["phone", 2, head]]
    assert out["events"] == [
        {"kind": "recipients_mismatch", "org": "school-1"},
        {"kind": "recipients_mismatch", "org": "school-1"},
        {"kind": "log_fork", "org": "school-1"},
        {"kind": "log_invalid", "org": "school-1"},
        {"kind": "head_mismatch", "org": "school-1"},
    ]
    page.context.close()
