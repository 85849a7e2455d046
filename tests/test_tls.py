"""`hwc demo --https`: the demo over https with a certificate made at start, so it works in
Safari's engine (which drops a `Secure` cookie on plain http) on one laptop."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cryptography import x509

from bench.common import free_port
from server.tls import self_signed
from tests.support import ROOT


def test_the_certificate_names_localhost_and_loopback_and_keeps_its_key_private(
    tmp_path: Path,
) -> None:
    cert_file, key_file = self_signed(tmp_path)
    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert key_file.stat().st_mode & 0o077 == 0
    assert b"PRIVATE KEY" in key_file.read_bytes()


def test_hwc_demo_https_serves_the_app_over_https_with_https_links(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "server.cli", "demo", "--https", "--port", str(port)]
    output = tmp_path / "demo.out"
    with output.open("w") as out:
        demo = subprocess.Popen(
            [*command, "--database", str(tmp_path / "demo.db")],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        for _ in range(150):
            try:
                with urllib.request.urlopen(  # noqa: S310 - loopback
                    f"https://localhost:{port}/aanmelden", context=unverified, timeout=2
                ) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert demo.poll() is None, output.read_text()
                time.sleep(0.2)
        else:
            raise AssertionError(output.read_text())
        printed = output.read_text()
        links = re.findall(r"https://localhost:\d+/aanmelden#\S+", printed)
        assert len(links) == 5, printed
        assert "http://" not in printed
        pem = ssl.get_server_certificate(("127.0.0.1", port))
        certificate = x509.load_pem_x509_certificate(pem.encode())
        assert "hwc demo" in certificate.subject.rfc4514_string()
    finally:
        demo.terminate()
        demo.wait(timeout=10)
