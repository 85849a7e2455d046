// The committed key log vectors (tests/vectors/keylog/, made by server/keylog.py's generator)
// against pwa/keylog.js. Takes the module and the vectors as arguments, so it runs as it is in
// Node (tests/js/keylog.test.mjs) and in Chromium (tests/test_browser_keylog.py).

/** One verdict per vector: {name, ok, detail}; ok when keylog.js agrees with the vector. */
export async function vectorVerdicts(keylog, vectors) {
  const verdicts = [];
  for (const [name, vector] of Object.entries(vectors)) {
    const check = name === "codes" ? checkCodes : checkLog;
    try {
      verdicts.push({ name, ...(await check(keylog, vector)) });
    } catch (error) {
      verdicts.push({ name, ok: false, detail: `threw ${error}` });
    }
  }
  return verdicts;
}

async function checkLog(keylog, vector) {
  const answer = { org: vector.org, entries: vector.entries, head: vector.head };
  let verified;
  try {
    verified = await keylog.verifyLogAnswer(vector.org, answer, vector.log_key,
      vector.remembered ?? undefined);
  } catch (error) {
    if (!(error instanceof keylog.KeylogError)) throw error;
    return { ok: !vector.valid, detail: `refused: ${error.reason} (expected ${vector.error})` };
  }
  if (!vector.valid) return { ok: false, detail: `accepted (expected ${vector.error})` };
  for (const [role, expected] of Object.entries(vector.recipients)) {
    const derived = keylog.recipients(verified.state, [role]);
    if (JSON.stringify(derived) !== JSON.stringify(expected)) {
      return { ok: false, detail: `recipients of ${role}: ${JSON.stringify(derived)}` };
    }
  }
  const machines = Object.fromEntries([...verified.state.machines]
    .map(([id, m]) => [id, { sig_key: m.sig_key, active: m.active }]));
  if (JSON.stringify(machines) !== JSON.stringify(vector.machines ?? {})) {
    return { ok: false, detail: `machines: ${JSON.stringify(machines)}` };
  }
  return { ok: true, detail: "valid" };
}

async function checkCodes(keylog, vector) {
  for (const row of vector.codes) {
    const code = await keylog.comparisonCode(row.enc_key, row.sig_key);
    if (code !== row.code) return { ok: false, detail: `code ${code} != ${row.code}` };
  }
  const text = vector.approval_statement;
  const fields = JSON.parse(text.slice(text.indexOf("\n") + 1));
  const bytes = keylog.approvalStatement(fields);
  if (new TextDecoder().decode(bytes) !== text) return { ok: false, detail: "approval statement" };
  for (const row of vector.machine_codes) {
    const code = await keylog.machineCode(row.sig_key);
    if (code !== row.code) return { ok: false, detail: `machine code ${code} != ${row.code}` };
  }
  const machineText = vector.machine_statement;
  const machine = JSON.parse(machineText.slice(machineText.indexOf("\n") + 1));
  if (new TextDecoder().decode(keylog.machineStatement(machine)) !== machineText) {
    return { ok: false, detail: "machine statement" };
  }
  return { ok: true, detail: `${vector.codes.length} codes and the approval statements` };
}
