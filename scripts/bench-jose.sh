#!/usr/bin/env bash
# JWS signing and verification rates next to `openssl speed` for RSA-2048 and P-256,
# one thread each, measured in the same run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/tessera-bench-jose.XXXXXX)
trap 'rm -rf "$work"' EXIT
seconds=${BENCH_JOSE_SECONDS:-3}

BENCH_JOSE_SECONDS=$seconds "$here/.build/release/tessera-bench" >"$work/tessera.txt"
openssl speed -seconds "$seconds" -mr rsa2048 ecdsap256 >"$work/openssl.txt" 2>/dev/null

python3 - "$work/tessera.txt" "$work/openssl.txt" <<'PY'
import sys
ours = dict(line.split() for line in open(sys.argv[1]) if line.strip())
ours = {k: float(v) for k, v in ours.items()}
ref = {}
for line in open(sys.argv[2]):
    # OpenSSL 3 -mr output: "+F2:<n>:<bits>:<signs/s>:<verifies/s>" for RSA, "+F4:..." for ECDSA
    parts = line.strip().split(":")
    if parts[0] == "+F2" and parts[2] == "2048":
        ref["RS256"] = (float(parts[3]), float(parts[4]))
    if parts[0] == "+F4" and parts[2] == "256":
        ref["ES256"] = (float(parts[3]), float(parts[4]))
print("JWS on one thread vs `openssl speed` (RSA-2048, P-256) in the same run")
print(f"{'operation':<22}{'tessera/s':>12}{'openssl/s':>12}{'ratio':>8}")
for alg in ("RS256", "ES256"):
    sign_ref, verify_ref = ref[alg]
    for label, key, reference in (("raw sign", "sign_raw", sign_ref), ("JWS sign", "sign_jws", sign_ref), ("JWS verify", "verify_jws", verify_ref)):
        value = ours[f"{alg}_{key}"]
        print(f"{alg + ' ' + label:<22}{value:>12.0f}{reference:>12.0f}{value / reference:>8.2f}")
print("goal: JWS sign at 0.80 or better of OpenSSL's rate")
PY
