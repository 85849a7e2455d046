"""The cost of version 3's signature (issue 20, docs/envelope.md) per envelope: signing (the
statement, i.e. a SHA-256 of the sealed bytes and the canonical fields, plus one ECDSA P-256
signature) and verifying (shape check with the ephemeral point, the statement, one ECDSA
verification). In Debian's Chromium with pwa/envelope3.js (WebCrypto, the device's
non-extractable key as enrolment makes it), unthrottled and under bench/keylogcost.py's 4x CPU
slowdown, and in Python with server/envelope.py (`cryptography`, as `hwc send` signs). Sealing a
whole envelope as version 2 and as version 3 is measured alongside, so the signature's share of
a send shows. Each figure is the mean of `ROUNDS` operations; the best and the median of 7."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, sync_playwright

from bench.keylogcost import ARGS, CHROMIUM, SLOWDOWN, source_page
from server import keylog
from server.envelope import (
    encode_content,
    encrypt_envelope,
    generate_device_key,
    signed_statement,
    verify_signature,
)

ROUNDS = 50
REPEATS = 7
SIGNAL_ID = "AZNkQ6f2xAAAAAAAAAAAAA"
DEVICE_ID = "dev-contact-1"
HEAD = {"org": "school-1", "size": 12, "hash": "ab" * 32}
SIGNER = {"org": "vt-utrecht", "device": "dev-sender-1"}

# Per operation: REPEATS means over ROUNDS runs each, in ms, sorted.
TIME_JS = """async ({ rounds, repeats, signalId, deviceId, head, signer }) => {
  const e = await import('/pwa/envelope.js');
  const { encryptEnvelopeV2 } = await import('/pwa/envelope2.js');
  const e3 = await import('/pwa/envelope3.js');
  const recipient = await e.generateDeviceKey();
  const signing = await e.generateSigningKey();  // non-extractable, as at enrolment
  const plain = e.encodeContent('Xylofoon Quaggazwemmer', '2015-03-02');
  const seal3 = () => e3.encryptEnvelopeV3(recipient.publicKeyRaw, signalId, deviceId, plain,
    head, signer, signing.privateKey);
  const envelope = await seal3();
  const ops = {
    seal_v2: () => encryptEnvelopeV2(recipient.publicKeyRaw, signalId, deviceId, plain, head),
    seal_v3: seal3,
    sign: async () => crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, signing.privateKey,
      await e3.signedStatement(envelope, signalId, deviceId)),
    verify: () => e3.verifyEnvelopeSignature(envelope, signalId, deviceId, signing.sigKey),
  };
  const out = {};
  for (const [name, op] of Object.entries(ops)) {
    await op();  // warm up
    const means = [];
    for (let r = 0; r < repeats; r++) {
      const start = performance.now();
      for (let i = 0; i < rounds; i++) await op();
      means.push((performance.now() - start) / rounds);
    }
    out[name] = means.sort((a, b) => a - b);
  }
  return out;
}"""


def browser_times(page: Page, slowdown: int) -> dict[str, list[float]]:
    """{operation: sorted per-operation means in ms} in the page under a CPU slowdown."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
    try:
        arguments = {
            "rounds": ROUNDS,
            "repeats": REPEATS,
            "signalId": SIGNAL_ID,
            "deviceId": DEVICE_ID,
            "head": HEAD,
            "signer": SIGNER,
        }
        return dict(page.evaluate(TIME_JS, arguments))
    finally:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})


def _means_ms(op: Callable[[], object]) -> list[float]:
    op()
    means = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(ROUNDS):
            op()
        means.append((time.perf_counter() - start) * 1000 / ROUNDS)
    return sorted(means)


def python_times() -> dict[str, list[float]]:
    """The same operations in server/envelope.py."""
    _, public = generate_device_key()
    signing, _ = generate_device_key()
    sig_key = keylog.public_b64u(signing)
    plain = encode_content("Xylofoon Quaggazwemmer", "2015-03-02")

    def seal_v3() -> dict[str, Any]:
        return encrypt_envelope(
            public, SIGNAL_ID, DEVICE_ID, plain, head=HEAD, signing_key=signing, signer=SIGNER
        )

    envelope = seal_v3()
    return {
        "seal_v2": _means_ms(
            lambda: encrypt_envelope(public, SIGNAL_ID, DEVICE_ID, plain, head=HEAD)
        ),
        "seal_v3": _means_ms(seal_v3),
        "sign": _means_ms(
            lambda: keylog.sign(signing, signed_statement(envelope, SIGNAL_ID, DEVICE_ID))
        ),
        "verify": _means_ms(lambda: verify_signature(envelope, SIGNAL_ID, DEVICE_ID, sig_key)),
    }


def summary(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        name: {"best_ms": means[0], "median_ms": statistics.median(means)}
        for name, means in times.items()
    }


def measure(port: int) -> dict[str, Any]:
    """{rounds, slowdown, chromium: {1x, Nx}: {op: {best_ms, median_ms}}, python: ...}."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = source_page(browser, f"http://127.0.0.1:{port}")
            chromium = {f"{rate}x": summary(browser_times(page, rate)) for rate in (1, SLOWDOWN)}
        finally:
            browser.close()
    return {
        "rounds": ROUNDS,
        "slowdown": SLOWDOWN,
        "chromium": chromium,
        "python": summary(python_times()),
    }
