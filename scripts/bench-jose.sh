#!/usr/bin/env bash
# JWS signing and verification next to `openssl speed` for RSA-2048 and P-256, one thread each, in
# the same run, and the instructions each operation costs (callgrind), which do not move with the
# machine's other load.
#
# Rates: BENCH_JOSE_ROUNDS rounds (default 3) of BENCH_JOSE_SECONDS per operation (default 2), Tessera
# and OpenSSL taking turns; both count operations per second of CPU time (`openssl speed` times user
# time unless given -elapsed, and tessera-bench does the same), so time the process spends descheduled
# does not count; each side's best round counts, since other jobs (sharing caches) only slow a round. Instructions: `tessera-bench count OP N` under callgrind, counting only the N
# operations; the share of them spent inside OpenSSL's signature primitive (EVP_PKEY_sign or
# EVP_PKEY_verify, what `openssl speed` times) says how close to OpenSSL the whole JWS operation is.
#
# Prints every goal as met or missed; the JOSE goal (issue 14): JWS signing and verification at 0.9 or
# better of `openssl speed`, for both algorithms. Also writes "name value" lines to $BENCH_RESULTS
# when set (scripts/bench.sh collects them).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${TESSERA_BENCH_BIN:-$here/.build/release/tessera-bench}
[ -x "$bench" ] || { echo "no $bench: build first (swift build -c release --product tessera-bench)" >&2; exit 1; }
work=$(mktemp -d /tmp/tessera-bench-jose.XXXXXX)
trap 'rm -rf "$work"' EXIT
seconds=${BENCH_JOSE_SECONDS:-2}
rounds=${BENCH_JOSE_ROUNDS:-3}
. "$here/scripts/bench/lib.sh"

echo "machine busy before start: $(busy)%"
for round in $(seq 1 "$rounds"); do
    BENCH_JOSE_SECONDS=$seconds "$bench" >>"$work/tessera.txt"
    openssl speed -seconds "$seconds" -mr rsa2048 ecdsap256 >>"$work/openssl.txt" 2>/dev/null
done

# Instructions per operation, and those inside OpenSSL's primitive.
: >"$work/instructions.txt"
if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
    for spec in ES256_sign_jws:200:EVP_PKEY_sign ES256_verify_jws:100:EVP_PKEY_verify \
                RS256_sign_jws:10:EVP_PKEY_sign RS256_verify_jws:200:EVP_PKEY_verify; do
        IFS=: read -r op count primitive <<<"$spec"
        valgrind --tool=callgrind --callgrind-out-file="$work/$op.cg" --toggle-collect='*countedOperations*' \
            "$bench" count "$op" "$count" >/dev/null 2>"$work/$op.err" || { cat "$work/$op.err" >&2; exit 1; }
        total=$(sed -n 's/^totals: *//p' "$work/$op.cg")
        inside=$(callgrind_annotate --inclusive=yes "$work/$op.cg" 2>/dev/null | sed -n "s/^ *\([0-9,]*\) .*:$primitive \[.*/\1/p" | head -1 | tr -d ,)
        echo "$op $((total / count)) $(( ${inside:-0} / count ))" >>"$work/instructions.txt"
    done
else
    echo "(valgrind is not installed: no instruction counts; scripts/install-deps.sh bench installs it)"
fi
echo "machine busy at the end: $(busy)%"

python3 - "$work/tessera.txt" "$work/openssl.txt" "$work/instructions.txt" "$rounds" "$seconds" "${BENCH_RESULTS:-}" <<'PY'
import sys
tessera_path, openssl_path, instructions_path, rounds, seconds, results_path = sys.argv[1:]
ours = {}
for line in open(tessera_path):
    if line.strip():
        name, value = line.split()
        ours[name] = max(ours.get(name, 0.0), float(value))
ref = {}
for line in open(openssl_path):
    # OpenSSL 3 -mr output: "+F2:<n>:<bits>:<signs/s>:<verifies/s>" for RSA, "+F4:..." for ECDSA.
    parts = line.strip().split(":")
    for tag, bits, alg in (("+F2", "2048", "RS256"), ("+F4", "256", "ES256")):
        if parts[0] == tag and parts[2] == bits:
            sign, verify = ref.get(alg, (0.0, 0.0))
            ref[alg] = (max(sign, float(parts[3])), max(verify, float(parts[4])))
if set(ref) != {"RS256", "ES256"}:
    sys.exit("could not read openssl speed's rates")
instructions = {}
for line in open(instructions_path):
    op, total, inside = line.split()
    instructions[op] = (int(total), int(inside))

print(f"\nJWS on one thread vs `openssl speed` (RSA-2048, P-256), best of {rounds} rounds of {seconds}s each")
print(f"{'operation':<20}{'tessera/s':>11}{'openssl/s':>11}{'ratio':>7}   {'instr/op':>10}{'in OpenSSL':>12}{'share':>7}")
results, goals = [], []
for alg in ("RS256", "ES256"):
    sign_ref, verify_ref = ref[alg]
    for label, key, reference in (("raw sign", "sign_raw", sign_ref), ("JWS sign", "sign_jws", sign_ref),
                                  ("raw verify", "verify_raw", verify_ref), ("JWS verify", "verify_jws", verify_ref)):
        value = ours[f"{alg}_{key}"]
        ratio = value / reference
        counted = instructions.get(f"{alg}_{key}")
        columns = f"{counted[0]:>10,}{counted[1]:>12,}{counted[1] / counted[0]:>7.2f}" if counted else ""
        print(f"{alg + ' ' + label:<20}{value:>11.0f}{reference:>11.0f}{ratio:>7.2f}   {columns}")
        results.append((f"jose_{alg}_{key}_per_s", value))
        results.append((f"jose_{alg}_{key}_ratio", ratio))
        if counted:
            results.append((f"jose_{alg}_{key}_instructions", counted[0]))
            results.append((f"jose_{alg}_{key}_share", counted[1] / counted[0]))
        if key.endswith("_jws"):
            goals.append((f"{alg} {label} / openssl speed", ratio, 0.9))
print("(instr/op: instructions of one whole operation; in OpenSSL: of them, inside EVP_PKEY_sign or EVP_PKEY_verify,\n"
      " the primitive openssl speed times; share: the instruction-count analogue of the ratio)")
print()
for label, value, goal in goals:
    print(f"{label:<50}{value:>7.2f}  goal >= {goal:g}: {'met' if value >= goal else 'missed'}")
if results_path:
    with open(results_path, "a") as out:
        for name, value in results:
            out.write(f"{name} {value}\n")
        for label, value, goal in goals:
            out.write(f"goal {'met' if value >= goal else 'missed'} {value:.3f} {goal} {label.replace(' ', '_')}\n")
PY
